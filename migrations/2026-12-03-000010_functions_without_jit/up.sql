-- The functions on the hot path run with enable_seqscan = off (see migration 000004),
-- which prices any sequential scan at 10^10. A scan that has no index to use, such as
-- xp_quest_keys reading the 7-row quest catalog, then crosses jit_above_cost and
-- PostgreSQL JIT-compiles it: about 100 ms of CPU for a statement that takes 0.03 ms,
-- inside every first activity of a user's day. Their statements are all tiny, so JIT
-- can only cost; it is off for them (and for what they call, which inherits it).
ALTER FUNCTION xp_ledger_apply() SET jit = off;
ALTER FUNCTION award_xp(BIGINT, TEXT, TEXT, INTEGER, TEXT, BOOLEAN, JSONB, BOOLEAN) SET jit = off;
ALTER FUNCTION xp_activity(BIGINT, TEXT, TEXT, BOOLEAN, JSONB) SET jit = off;
ALTER FUNCTION like_story(BIGINT, BIGINT, TEXT, JSONB, TEXT, JSONB) SET jit = off;
ALTER FUNCTION create_story(BIGINT, TEXT, TEXT, TEXT, JSONB, TEXT, JSONB) SET jit = off;
ALTER FUNCTION like_stories(BIGINT[], BIGINT[], TEXT[], JSONB, TEXT, JSONB, TIMESTAMPTZ[]) SET jit = off;
ALTER FUNCTION xp_quest_keys(BIGINT, DATE) SET jit = off;
