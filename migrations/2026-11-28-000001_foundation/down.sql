DROP FUNCTION IF EXISTS award_xp(BIGINT, TEXT, TEXT, INTEGER, TEXT, BOOLEAN, INTEGER, JSONB);
DROP TABLE IF EXISTS notifications, user_achievements, story_likes, stories, user_action_counts, xp_ledger, users CASCADE;
DROP FUNCTION IF EXISTS xp_ledger_apply(), xp_ledger_append_only(), users_guard_xp();
