-- The daily loop: one clock, each writer's timezone, streaks, daily quests, daily caps,
-- and the ledger entries behind every award (XpAward.events, the xpAwarded push).
--   * storyxp_now() is the clock of everything SQL does: the instant storyxp sets in
--     `storyxp.now` (the test clock, STORYXP_TEST_CLOCK=1 with X-Storyxp-Now), else
--     now(). Every timestamp default reads it, except the auth tables' (real time).
--   * A "local date" is (instant AT TIME ZONE the user's timezone)::date, calendar
--     arithmetic done by PostgreSQL's tz database: a DST night is one day.
--   * The streak and quest rules (xp_settings, xp_quests) and the caps
--     (xp_rules.daily_limit) are seeded from xp/rules.rs at every migrate, like xp_rules.

CREATE FUNCTION storyxp_now() RETURNS TIMESTAMPTZ LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('storyxp.now', true), '')::TIMESTAMPTZ, now())
$$;

DO $$
DECLARE
    v_column RECORD;
BEGIN
    FOR v_column IN
        SELECT c.table_name, c.column_name FROM information_schema.columns c
         WHERE c.table_schema = current_schema() AND c.column_default = 'now()'
           AND c.table_name NOT IN ('revoked_tokens', 'login_failures')
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET DEFAULT storyxp_now()',
                       v_column.table_name, v_column.column_name);
    END LOOP;
END $$;

ALTER TABLE users
    ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC'
        CONSTRAINT users_timezone_length CHECK (length(timezone) BETWEEN 1 AND 64),
    ADD COLUMN timezone_changed_at TIMESTAMPTZ,
    ADD COLUMN streak_current INTEGER NOT NULL DEFAULT 0
        CONSTRAINT users_streak_current_not_negative CHECK (streak_current >= 0),
    ADD COLUMN streak_longest INTEGER NOT NULL DEFAULT 0
        CONSTRAINT users_streak_longest_covers_current CHECK (streak_longest >= streak_current),
    ADD COLUMN streak_last_date DATE,
    ADD COLUMN streak_freezes INTEGER NOT NULL DEFAULT 0
        CONSTRAINT users_streak_freezes_range CHECK (streak_freezes >= 0),
    -- The local date whose quests are in daily_quests (made at the date's first activity).
    ADD COLUMN quest_date DATE;

-- The actions are xp_rules' rows now (seeded from Rust), not a list in a CHECK; award_xp
-- refuses an action without a rule.
ALTER TABLE xp_ledger DROP CONSTRAINT xp_ledger_action_known;

-- Per user and local date, at most this many awards of the action (NULL: no cap).
ALTER TABLE xp_rules ADD COLUMN daily_limit INTEGER
    CONSTRAINT xp_rules_daily_limit_positive CHECK (daily_limit > 0);

-- Named numbers of the streak and quest rules (xp::rules::SETTINGS).
CREATE TABLE xp_settings (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

-- The quest catalog (xp::rules::QuestKey), in catalog order.
CREATE TABLE xp_quests (
    key         TEXT PRIMARY KEY,
    ordinal     INTEGER NOT NULL UNIQUE,
    target      INTEGER NOT NULL CONSTRAINT xp_quests_target_positive CHECK (target > 0),
    xp          INTEGER NOT NULL CONSTRAINT xp_quests_xp_positive CHECK (xp > 0),
    -- Counts only actions on other users' stories.
    others_only BOOLEAN NOT NULL
);

-- A user's quests of one local date, made at that date's first activity; target and xp
-- are the catalog's at that moment.
CREATE TABLE daily_quests (
    user_id    BIGINT NOT NULL REFERENCES users (id),
    date       DATE NOT NULL,
    quest      TEXT NOT NULL,
    position   INTEGER NOT NULL,
    target     INTEGER NOT NULL,
    xp         INTEGER NOT NULL,
    progress   INTEGER NOT NULL DEFAULT 0
        CONSTRAINT daily_quests_progress_range CHECK (progress BETWEEN 0 AND target),
    -- What was counted (a story's id), so each counts once.
    subjects   TEXT[] NOT NULL DEFAULT '{}',
    claimed_at TIMESTAMPTZ,
    PRIMARY KEY (user_id, date, quest)
);

-- Awards of capped actions per user and local date.
CREATE TABLE xp_daily_awards (
    user_id BIGINT NOT NULL REFERENCES users (id),
    date    DATE NOT NULL,
    action  TEXT NOT NULL,
    count   INTEGER NOT NULL CONSTRAINT xp_daily_awards_count_positive CHECK (count > 0),
    PRIMARY KEY (user_id, date, action)
);

-- Awards a daily cap refused: never paid later (backfill-xp skips them).
CREATE TABLE xp_capped (
    recipient_id BIGINT NOT NULL REFERENCES users (id),
    action       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    capped_at    TIMESTAMPTZ NOT NULL DEFAULT storyxp_now(),
    PRIMARY KEY (recipient_id, action, subject)
);

-- Users with an xpAwarded subscription open on some instance: award_xp announces an
-- award (NOTIFY storyxp_xp_awarded) only to them, so awards nobody watches cost nothing.
CREATE TABLE live_award_subscribers (
    user_id     BIGINT NOT NULL,
    instance    UUID NOT NULL,
    since       TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, instance)
);

-- The user's local date at the clock's instant.
CREATE FUNCTION xp_local_date(p_timezone TEXT) RETURNS DATE
LANGUAGE sql STABLE AS $$
    SELECT (storyxp_now() AT TIME ZONE p_timezone)::DATE
$$;

-- The three quests of (user, date): one of the catalog's combinations of three, picked
-- by a fixed mix of the user's id and the date, so the same on every read and instance,
-- each combination (and so each quest) equally often, and varied across users and days.
CREATE FUNCTION xp_quest_keys(p_user BIGINT, p_date DATE) RETURNS TEXT[]
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_keys TEXT[];
    v_size INTEGER;
    v_pick INTEGER;
    v_n INTEGER := 0;
BEGIN
    SELECT array_agg(q.key ORDER BY q.ordinal) INTO v_keys FROM xp_quests q;
    v_size := coalesce(array_length(v_keys, 1), 0);
    IF v_size < 3 THEN
        RAISE EXCEPTION 'the quest catalog has % quests, it needs at least 3', v_size;
    END IF;
    v_pick := mod(p_user * 7919 + (p_date - DATE '2000-01-01') * 13,
                  v_size * (v_size - 1) * (v_size - 2) / 6);
    IF v_pick < 0 THEN
        v_pick := v_pick + v_size * (v_size - 1) * (v_size - 2) / 6;
    END IF;
    -- The v_pick-th combination of three in catalog order (at most C(size, 3) steps).
    FOR a IN 1 .. v_size - 2 LOOP
        FOR b IN a + 1 .. v_size - 1 LOOP
            FOR c IN b + 1 .. v_size LOOP
                IF v_n = v_pick THEN
                    RETURN ARRAY[v_keys[a], v_keys[b], v_keys[c]];
                END IF;
                v_n := v_n + 1;
            END LOOP;
        END LOOP;
    END LOOP;
END $$;

DROP FUNCTION like_stories(BIGINT[], BIGINT[], TEXT[], JSONB);
DROP FUNCTION like_story(BIGINT, BIGINT, TEXT, JSONB);
DROP FUNCTION create_story(BIGINT, TEXT, TEXT, TEXT, JSONB);
DROP FUNCTION award_xp(BIGINT, TEXT, TEXT, INTEGER, TEXT, BOOLEAN, JSONB);

-- The one award function (see migration 000008), now also:
--   * the action must have a rule in xp_rules;
--   * a capped action (xp_rules.daily_limit; p_caps, false only for backfill-xp) pays
--     at most daily_limit awards per recipient and local date; past it the award is
--     recorded in xp_capped and never paid. Under the recipient's row lock, so exact;
--   * achievements may have an amount of their own ("xp") and unlock on a streak
--     ("streak": the current streak reaches it);
--   * returns the ledger ids it wrote (entries), and announces the award on
--     storyxp_xp_awarded when the recipient has an xpAwarded subscriber.
CREATE FUNCTION award_xp(
    p_recipient BIGINT, p_action TEXT, p_subject TEXT, p_amount INTEGER, p_reason TEXT,
    p_notify BOOLEAN, p_achievements JSONB, p_caps BOOLEAN
) RETURNS TABLE (xp_gained INTEGER, total_xp INTEGER, level INTEGER, previous_level INTEGER,
                 unlocked TEXT[], awarded_at TIMESTAMPTZ, notification_id BIGINT,
                 entries BIGINT[])
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    v_amount INTEGER := p_amount;
    v_rule_xp INTEGER;
    v_limit INTEGER;
    v_date DATE;
    v_count INTEGER;
    v_achievement_xp INTEGER;
    v_total INTEGER;
    v_before INTEGER;
    v_gained INTEGER;
    v_unlocked TEXT[] := '{}';
    v_entries BIGINT[];
    v_entry BIGINT;
    v_notification BIGINT;
    v_candidate JSONB;
    v_candidate_xp INTEGER;
BEGIN
    IF p_recipient IS NULL THEN
        RAISE EXCEPTION 'a % award needs a recipient (xp_rules pays it to someone this call does not name)',
            p_action USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT r.xp, r.daily_limit INTO v_rule_xp, v_limit FROM xp_rules r WHERE r.action = p_action;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no XP rule for %', p_action USING ERRCODE = 'foreign_key_violation';
    END IF;
    v_amount := coalesce(v_amount, v_rule_xp);
    IF v_amount IS NULL THEN
        RAISE EXCEPTION 'a % award needs an amount: the call gives none and xp_rules has none',
            p_action USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF v_limit IS NOT NULL AND p_caps AND p_subject IS NOT NULL THEN
        -- Capped: decide under the recipient's row lock (the lock the ledger trigger takes
        -- anyway), so concurrent awards count exactly.
        SELECT xp_local_date(u.timezone) INTO v_date FROM users u WHERE u.id = p_recipient
           FOR NO KEY UPDATE;
        IF EXISTS (SELECT 1 FROM xp_ledger l WHERE l.recipient_id = p_recipient
                      AND l.action = p_action AND l.subject = p_subject)
           OR EXISTS (SELECT 1 FROM xp_capped c WHERE c.recipient_id = p_recipient
                      AND c.action = p_action AND c.subject = p_subject) THEN
            RETURN;
        END IF;
        SELECT d.count INTO v_count FROM xp_daily_awards d
         WHERE d.user_id = p_recipient AND d.date = v_date AND d.action = p_action;
        IF coalesce(v_count, 0) >= v_limit THEN
            INSERT INTO xp_capped (recipient_id, action, subject) VALUES (p_recipient, p_action, p_subject);
            RETURN;
        END IF;
        INSERT INTO xp_daily_awards (user_id, date, action, count) VALUES (p_recipient, v_date, p_action, 1)
        ON CONFLICT (user_id, date, action) DO UPDATE SET count = xp_daily_awards.count + 1;
    END IF;
    INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason)
    VALUES (p_recipient, p_action, p_subject, v_amount, p_reason)
    ON CONFLICT (recipient_id, action, subject) DO NOTHING
    RETURNING xp_ledger.id INTO v_entry;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_entries := ARRAY[v_entry];
    -- The ledger trigger has locked and updated the user's row: awards to one user are
    -- serialised from here to commit, so the counts read below are exact.
    SELECT u.experience_points INTO v_total FROM users u WHERE u.id = p_recipient;
    v_before := v_total - v_amount;
    v_gained := v_amount;

    FOR v_candidate IN SELECT value FROM jsonb_array_elements(p_achievements) LOOP
        IF v_candidate ? 'count' THEN
            SELECT c.count INTO v_count FROM user_action_counts c
             WHERE c.user_id = p_recipient AND c.action = v_candidate->>'action';
            CONTINUE WHEN coalesce(v_count, 0) < (v_candidate->>'count')::INTEGER;
        ELSIF v_candidate ? 'streak' THEN
            CONTINUE WHEN (SELECT u.streak_current FROM users u WHERE u.id = p_recipient)
                          < (v_candidate->>'streak')::INTEGER;
        ELSE
            CONTINUE WHEN xp_level(v_total) < (v_candidate->>'level')::INTEGER;
        END IF;
        CONTINUE WHEN EXISTS (SELECT 1 FROM user_achievements a
                               WHERE a.user_id = p_recipient AND a.achievement = v_candidate->>'key');
        IF v_candidate ? 'xp' THEN
            v_candidate_xp := (v_candidate->>'xp')::INTEGER;
        ELSE
            IF v_achievement_xp IS NULL THEN
                SELECT r.xp INTO STRICT v_achievement_xp FROM xp_rules r
                 WHERE r.action = 'ACHIEVEMENT_EARNED';
            END IF;
            v_candidate_xp := v_achievement_xp;
        END IF;
        INSERT INTO user_achievements (user_id, achievement) VALUES (p_recipient, v_candidate->>'key');
        INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason)
        VALUES (p_recipient, 'ACHIEVEMENT_EARNED', v_candidate->>'key', v_candidate_xp,
                'Achievement unlocked: ' || (v_candidate->>'name'))
        RETURNING xp_ledger.id INTO v_entry;
        v_entries := v_entries || v_entry;
        v_total := v_total + v_candidate_xp;
        v_gained := v_gained + v_candidate_xp;
        v_unlocked := v_unlocked || (v_candidate->>'key');
        IF p_notify THEN
            INSERT INTO notifications (user_id, kind, message, achievement)
            VALUES (p_recipient, 'ACHIEVEMENT_EARNED',
                    'Achievement unlocked: ' || (v_candidate->>'name') || '!', v_candidate->>'key');
        END IF;
    END LOOP;

    IF p_notify AND xp_level(v_total) > xp_level(v_before) THEN
        INSERT INTO notifications (user_id, kind, message, level)
        VALUES (p_recipient, 'ACHIEVEMENT_EARNED',
                format('Level up! You reached level %s.', xp_level(v_total)), xp_level(v_total))
        RETURNING id INTO v_notification;
        PERFORM pg_notify('storyxp_level_up', json_build_object(
            'user_id', p_recipient, 'notification_id', v_notification,
            'level', xp_level(v_total), 'previous_level', xp_level(v_before),
            'total_xp', v_total)::TEXT);
    END IF;
    IF EXISTS (SELECT 1 FROM live_award_subscribers s WHERE s.user_id = p_recipient) THEN
        PERFORM pg_notify('storyxp_xp_awarded', json_build_object(
            'user_id', p_recipient, 'action', p_action, 'xp_gained', v_gained,
            'total_xp', v_total, 'level', xp_level(v_total),
            'previous_level', xp_level(v_before), 'unlocked', v_unlocked,
            'awarded_at', storyxp_now(), 'entries', v_entries)::TEXT);
    END IF;

    RETURN QUERY SELECT v_gained, v_total, xp_level(v_total), xp_level(v_before),
                        v_unlocked, storyxp_now(), v_notification, v_entries;
END $$;

-- An activity of p_user (the contract's list: createStory, publishStory, likeStory,
-- commentOnStory, readStory, createCharacter, addFriend, completeCollaboration), in the
-- action's transaction:
--   1. at the first activity of a local date, the date's three quests are made, and the
--      streak moves (xp_settings: freezes spent over a gap, one earned at every
--      STREAK_FREEZE_EVERY days, at most STREAK_FREEZES_MAX held); a streak of 2 or more
--      pays STREAK_BONUS = STREAK_XP_PER_DAY * min(current, STREAK_XP_DAYS) once per
--      date (p_achievements: the streak achievements);
--   2. the quest p_quest (NULL: none) of today advances by one, once per p_subject
--      (NULL: every call counts), unless it counts only other users' stories and
--      p_on_own_story.
-- Returns the streak bonus's award, or no row. Dates only move forward: an activity on
-- a local date not later than lastActiveDate (after a timezone change) moves no streak.
CREATE FUNCTION xp_activity(
    p_user BIGINT, p_quest TEXT, p_subject TEXT, p_on_own_story BOOLEAN, p_achievements JSONB
) RETURNS TABLE (xp_gained INTEGER, total_xp INTEGER, level INTEGER, previous_level INTEGER,
                 unlocked TEXT[], awarded_at TIMESTAMPTZ, notification_id BIGINT,
                 entries BIGINT[])
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_timezone TEXT;
    v_today DATE;
    v_last DATE;
    v_quest_date DATE;
    v_current INTEGER;
    v_longest INTEGER;
    v_freezes INTEGER;
    v_gap INTEGER;
    v_every INTEGER;
    v_max_freezes INTEGER;
    v_per_day INTEGER;
    v_days INTEGER;
    v_bonus BOOLEAN := FALSE;
BEGIN
    SELECT u.timezone, u.streak_last_date, u.quest_date INTO v_timezone, v_last, v_quest_date
      FROM users u WHERE u.id = p_user;
    v_today := xp_local_date(v_timezone);
    IF v_quest_date IS DISTINCT FROM v_today OR v_last IS NULL OR v_last < v_today THEN
        SELECT u.streak_last_date, u.quest_date, u.streak_current, u.streak_longest, u.streak_freezes
          INTO v_last, v_quest_date, v_current, v_longest, v_freezes
          FROM users u WHERE u.id = p_user FOR NO KEY UPDATE;
        IF v_quest_date IS DISTINCT FROM v_today THEN
            INSERT INTO daily_quests (user_id, date, quest, position, target, xp)
            SELECT p_user, v_today, k.key, k.n, q.target, q.xp
              FROM unnest(xp_quest_keys(p_user, v_today)) WITH ORDINALITY AS k (key, n)
              JOIN xp_quests q ON q.key = k.key
            ON CONFLICT DO NOTHING;
            UPDATE users SET quest_date = v_today WHERE id = p_user;
        END IF;
        IF v_last IS NULL OR v_last < v_today THEN
            SELECT s.value INTO STRICT v_every FROM xp_settings s WHERE s.name = 'STREAK_FREEZE_EVERY';
            SELECT s.value INTO STRICT v_max_freezes FROM xp_settings s WHERE s.name = 'STREAK_FREEZES_MAX';
            v_gap := CASE WHEN v_last IS NULL THEN NULL ELSE v_today - v_last END;
            IF v_gap = 1 THEN
                v_current := v_current + 1;
            ELSIF v_gap >= 2 AND v_current > 0 AND v_freezes >= v_gap - 1 THEN
                v_freezes := v_freezes - (v_gap - 1);
                v_current := v_current + 1;
            ELSE
                v_current := 1;
            END IF;
            IF v_current % v_every = 0 THEN
                v_freezes := least(v_freezes + 1, v_max_freezes);
            END IF;
            v_longest := greatest(v_longest, v_current);
            UPDATE users SET streak_current = v_current, streak_longest = v_longest,
                             streak_last_date = v_today, streak_freezes = v_freezes
             WHERE id = p_user;
            v_bonus := v_current >= 2;
        END IF;
    END IF;
    IF p_quest IS NOT NULL THEN
        UPDATE daily_quests d
           SET progress = d.progress + 1,
               subjects = CASE WHEN p_subject IS NULL THEN d.subjects ELSE d.subjects || p_subject END
          FROM xp_quests q
         WHERE d.user_id = p_user AND d.date = v_today AND d.quest = p_quest AND q.key = d.quest
           AND d.progress < d.target
           AND NOT (q.others_only AND p_on_own_story)
           AND (p_subject IS NULL OR NOT (p_subject = ANY (d.subjects)));
    END IF;
    IF v_bonus THEN
        SELECT s.value INTO STRICT v_per_day FROM xp_settings s WHERE s.name = 'STREAK_XP_PER_DAY';
        SELECT s.value INTO STRICT v_days FROM xp_settings s WHERE s.name = 'STREAK_XP_DAYS';
        RETURN QUERY SELECT * FROM award_xp(p_user, 'STREAK_BONUS', 'date:' || v_today,
            v_per_day * least(v_current, v_days), NULL, TRUE, p_achievements, TRUE);
    END IF;
END $$;

-- Likes a story the liker may see (migration 000008), and counts the like as the
-- liker's activity (p_quest: the quest a like advances, counted once per story). The
-- author's award in the award columns; the liker's streak bonus in the caller_ columns
-- (NULL when none). No row: the story does not exist or is not visible to the liker.
CREATE FUNCTION like_story(
    p_story BIGINT, p_liker BIGINT, p_subject TEXT, p_achievements JSONB, p_quest TEXT,
    p_streak_achievements JSONB
) RETURNS TABLE (id BIGINT, author_id BIGINT, title TEXT, published BOOLEAN,
               created_at TIMESTAMPTZ, recipient_id BIGINT, xp_gained INTEGER,
               total_xp INTEGER, level INTEGER, previous_level INTEGER, unlocked TEXT[],
               awarded_at TIMESTAMPTZ, notification_id BIGINT, entries BIGINT[],
               like_count BIGINT, caller_xp_gained INTEGER, caller_total_xp INTEGER,
               caller_level INTEGER, caller_previous_level INTEGER, caller_unlocked TEXT[],
               caller_awarded_at TIMESTAMPTZ, caller_notification_id BIGINT,
               caller_entries BIGINT[])
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_author BIGINT;
    v_title TEXT;
    v_published BOOLEAN;
    v_created TIMESTAMPTZ;
    v_recipient BIGINT;
    v_pays BOOLEAN;
    v_amount INTEGER;
    v_award RECORD;
    v_bonus RECORD;
BEGIN
    SELECT s.author_id, s.title, s.published, s.created_at
      INTO v_author, v_title, v_published, v_created
      FROM stories s
     WHERE s.id = p_story AND (s.published OR s.author_id = p_liker);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO story_likes (story_id, user_id) VALUES (p_story, p_liker) ON CONFLICT DO NOTHING;
    SELECT * INTO v_bonus FROM xp_activity(p_liker, p_quest, p_story::TEXT, v_author = p_liker,
                                           p_streak_achievements);
    SELECT r.recipient, r.pays, r.amount INTO STRICT v_recipient, v_pays, v_amount
      FROM xp_story_rule('STORY_LIKED', v_author, p_liker) r;
    -- Always assigns v_award (all NULL when the like pays nothing): the one-time filter
    -- keeps award_xp from running at all then.
    SELECT * INTO v_award
      FROM award_xp(v_recipient, 'STORY_LIKED', p_subject, v_amount, NULL, TRUE, p_achievements, TRUE)
     WHERE v_pays;
    RETURN QUERY SELECT p_story, v_author, v_title, v_published, v_created,
        CASE WHEN v_award.xp_gained IS NOT NULL THEN v_recipient END,
        v_award.xp_gained, v_award.total_xp, v_award.level, v_award.previous_level,
        v_award.unlocked, v_award.awarded_at, v_award.notification_id, v_award.entries,
        (SELECT count(*) FROM story_likes l WHERE l.story_id = p_story),
        v_bonus.xp_gained, v_bonus.total_xp, v_bonus.level, v_bonus.previous_level,
        v_bonus.unlocked, v_bonus.awarded_at, v_bonus.notification_id, v_bonus.entries;
END $$;

-- Creates a story (migration 000008) as the author's activity (p_quest), and awards
-- STORY_CREATED (capped per local date). Columns as like_story's: the story's award,
-- then the author's streak bonus in the caller_ columns (storyxp adds them up).
CREATE FUNCTION create_story(
    p_author BIGINT, p_title TEXT, p_content TEXT, p_subject_prefix TEXT, p_achievements JSONB,
    p_quest TEXT, p_streak_achievements JSONB
) RETURNS TABLE (id BIGINT, author_id BIGINT, title TEXT, published BOOLEAN,
                 created_at TIMESTAMPTZ, recipient_id BIGINT, xp_gained INTEGER,
                 total_xp INTEGER, level INTEGER, previous_level INTEGER, unlocked TEXT[],
                 awarded_at TIMESTAMPTZ, notification_id BIGINT, entries BIGINT[],
                 like_count BIGINT, caller_xp_gained INTEGER, caller_total_xp INTEGER,
                 caller_level INTEGER, caller_previous_level INTEGER, caller_unlocked TEXT[],
                 caller_awarded_at TIMESTAMPTZ, caller_notification_id BIGINT,
                 caller_entries BIGINT[])
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_id BIGINT;
    v_published BOOLEAN;
    v_created TIMESTAMPTZ;
    v_recipient BIGINT;
    v_pays BOOLEAN;
    v_amount INTEGER;
    v_award RECORD;
    v_bonus RECORD;
BEGIN
    INSERT INTO stories (author_id, title, content) VALUES (p_author, p_title, p_content)
    RETURNING stories.id, stories.published, stories.created_at
         INTO v_id, v_published, v_created;
    SELECT * INTO v_bonus FROM xp_activity(p_author, p_quest, NULL, TRUE, p_streak_achievements);
    SELECT r.recipient, r.pays, r.amount INTO STRICT v_recipient, v_pays, v_amount
      FROM xp_story_rule('STORY_CREATED', p_author, p_author) r;
    SELECT * INTO v_award
      FROM award_xp(v_recipient, 'STORY_CREATED', p_subject_prefix || v_id, v_amount,
                    NULL, TRUE, p_achievements, TRUE)
     WHERE v_pays;
    RETURN QUERY SELECT v_id, p_author, p_title, v_published, v_created,
        CASE WHEN v_award.xp_gained IS NOT NULL THEN v_recipient END,
        v_award.xp_gained, v_award.total_xp, v_award.level, v_award.previous_level,
        v_award.unlocked, v_award.awarded_at, v_award.notification_id, v_award.entries,
        0::BIGINT,
        v_bonus.xp_gained, v_bonus.total_xp, v_bonus.level, v_bonus.previous_level,
        v_bonus.unlocked, v_bonus.awarded_at, v_bonus.notification_id, v_bonus.entries;
END $$;

-- Likes in batches (migrations 000006, 000008). The rows taken up front, in ascending
-- id order, are everyone the batch may write: the liked stories' authors and the likers
-- (a like is the liker's activity: streak, quests), so batches never deadlock.
-- p_nows: NULL, or each like's instant (the test clock), set for its like alone.
CREATE FUNCTION like_stories(
    p_stories BIGINT[], p_likers BIGINT[], p_subjects TEXT[], p_achievements JSONB,
    p_quest TEXT, p_streak_achievements JSONB, p_nows TIMESTAMPTZ[]
) RETURNS TABLE (ord BIGINT, id BIGINT, author_id BIGINT, title TEXT, published BOOLEAN,
                 created_at TIMESTAMPTZ, recipient_id BIGINT, xp_gained INTEGER,
                 total_xp INTEGER, level INTEGER, previous_level INTEGER, unlocked TEXT[],
                 awarded_at TIMESTAMPTZ, notification_id BIGINT, entries BIGINT[],
                 like_count BIGINT, caller_xp_gained INTEGER, caller_total_xp INTEGER,
                 caller_level INTEGER, caller_previous_level INTEGER, caller_unlocked TEXT[],
                 caller_awarded_at TIMESTAMPTZ, caller_notification_id BIGINT,
                 caller_entries BIGINT[])
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_like RECORD;
BEGIN
    PERFORM 1 FROM users u
     WHERE u.id IN (SELECT s.author_id FROM stories s WHERE s.id = ANY (p_stories)
                    UNION ALL
                    SELECT l.liker FROM unnest(p_likers) AS l (liker))
     ORDER BY u.id
       FOR NO KEY UPDATE;
    FOR v_like IN
        SELECT l.n, l.story, l.liker, l.subject
          FROM unnest(p_stories, p_likers, p_subjects) WITH ORDINALITY
               AS l (story, liker, subject, n)
          LEFT JOIN stories s ON s.id = l.story
         ORDER BY s.author_id, l.story, l.liker, l.n
    LOOP
        IF p_nows IS NOT NULL THEN
            PERFORM set_config('storyxp.now', coalesce(p_nows[v_like.n]::TEXT, ''), true);
        END IF;
        RETURN QUERY SELECT v_like.n, r.*
          FROM like_story(v_like.story, v_like.liker, v_like.subject, p_achievements,
                          p_quest, p_streak_achievements) r;
    END LOOP;
END $$;
