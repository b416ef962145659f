-- The XP rules as data: the SQL functions no longer carry amounts, recipients, the
-- own-story rule, the level size or story keys of their own.
--   * xp_rules holds one rule per action; storyxp writes it from its Rust table
--     (xp/rules.rs) at every migrate, after the migrations (xp::rules_table::seed). The
--     award functions read it inside the award's transaction (one key lookup).
--   * xp_level(xp) is the level a total reaches; storyxp defines it from its Rust level
--     size (xp::level::XP_PER_LEVEL) at every migrate, before the migrations, since this
--     one uses it (migrate with `storyxp migrate`, not the diesel CLI).
--   * create_story gets the story key's prefix from storyxp (xp::rules::Subject), and
--     appends the id of the story it creates.

CREATE TABLE xp_rules (
    action            TEXT PRIMARY KEY,
    -- The Rust table's amount, rewritten at every migrate; NULL: the caller gives the
    -- amount (CUSTOM).
    default_xp        INTEGER CONSTRAINT xp_rules_default_xp_positive CHECK (default_xp > 0),
    -- An amount tuned while running (setXpReward); NULL: the default applies. Seeding
    -- never touches it.
    tuned_xp          INTEGER CONSTRAINT xp_rules_tuned_xp_positive CHECK (tuned_xp > 0),
    -- What an award of the action pays now.
    xp                INTEGER GENERATED ALWAYS AS (coalesce(tuned_xp, default_xp)) STORED,
    -- Who receives it (xp::rules::Recipient): AUTHOR, the author of the story someone
    -- acted on; ACTOR, the user who acted; BOTH_FRIENDS, PARTICIPANTS, EARNER, TARGET.
    recipient         TEXT NOT NULL,
    -- Whether it pays when the acting user is the story's author.
    pays_on_own_story BOOLEAN NOT NULL
);

ALTER TABLE users DROP CONSTRAINT users_level_matches_xp,
    ADD CONSTRAINT users_level_matches_xp CHECK (level = xp_level(experience_points));

CREATE OR REPLACE FUNCTION xp_ledger_apply() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
BEGIN
    UPDATE users
       SET experience_points = experience_points + NEW.amount,
           level = xp_level(experience_points + NEW.amount)
     WHERE id = NEW.recipient_id;
    INSERT INTO user_action_counts (user_id, action, count)
    VALUES (NEW.recipient_id, NEW.action, 1)
    ON CONFLICT (user_id, action) DO UPDATE SET count = user_action_counts.count + 1;
    RETURN NULL;
END $$;

-- Who earns the award of a story action by `p_actor` on a story by `p_author`, and how
-- much, as xp_rules says: the same decision as xp::rules::XpRule::story_recipient.
-- pays: false when the actor wrote the story and the rule does not pay for one's own
-- story. recipient: NULL when the rule pays neither the author nor the actor (award_xp
-- refuses a NULL recipient). No row: no rule for the action (callers use INTO STRICT).
-- A single SELECT, so PostgreSQL inlines it into the calling statement.
CREATE FUNCTION xp_story_rule(p_action TEXT, p_author BIGINT, p_actor BIGINT)
RETURNS TABLE (recipient BIGINT, pays BOOLEAN, amount INTEGER)
LANGUAGE sql STABLE AS $$
    SELECT CASE r.recipient WHEN 'AUTHOR' THEN p_author WHEN 'ACTOR' THEN p_actor END,
           r.pays_on_own_story OR p_author <> p_actor,
           r.xp
      FROM xp_rules r
     WHERE r.action = p_action
$$;

-- New parameter lists (no amounts, no achievement XP; a key prefix for create_story):
-- drop the functions and create them again.
DROP FUNCTION like_stories(BIGINT[], BIGINT[], TEXT[], INTEGER, INTEGER, JSONB);
DROP FUNCTION like_story(BIGINT, BIGINT, TEXT, INTEGER, INTEGER, JSONB);
DROP FUNCTION create_story(BIGINT, TEXT, TEXT, INTEGER, INTEGER, JSONB);
DROP FUNCTION award_xp(BIGINT, TEXT, TEXT, INTEGER, TEXT, BOOLEAN, INTEGER, JSONB);

-- The one award function. Called inside the caller's transaction, it
--   1. appends the ledger entry, or does nothing at all when this award was already made;
--      the amount is p_amount when given (admin awards, or a caller that read the rule),
--      else what xp_rules says the action pays now;
--   2. unlocks the candidate achievements whose threshold is now reached (each once,
--      paying what xp_rules says ACHIEVEMENT_EARNED pays; one pass: achievements never
--      trigger further achievements except the level-based ones, which Rust lists after
--      the count-based ones);
--   3. stores one level-up notification when the call raised the level (unless
--      p_notify is false) and announces it with NOTIFY, which PostgreSQL delivers only
--      when the transaction commits.
-- p_achievements: [{"key", "name", "action", "count"} | {"key", "name", "level"}].
-- Returns no row for a duplicate award.
CREATE FUNCTION award_xp(
    p_recipient BIGINT, p_action TEXT, p_subject TEXT, p_amount INTEGER, p_reason TEXT,
    p_notify BOOLEAN, p_achievements JSONB
) RETURNS TABLE (xp_gained INTEGER, total_xp INTEGER, level INTEGER, previous_level INTEGER,
                 unlocked TEXT[], awarded_at TIMESTAMPTZ, notification_id BIGINT)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    v_amount INTEGER := p_amount;
    v_achievement_xp INTEGER;
    v_total INTEGER;
    v_before INTEGER;
    v_gained INTEGER;
    v_unlocked TEXT[] := '{}';
    v_count INTEGER;
    v_notification BIGINT;
    v_candidate JSONB;
BEGIN
    IF p_recipient IS NULL THEN
        RAISE EXCEPTION 'a % award needs a recipient (xp_rules pays it to someone this call does not name)',
            p_action USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF v_amount IS NULL THEN
        SELECT r.xp INTO v_amount FROM xp_rules r WHERE r.action = p_action;
        IF v_amount IS NULL THEN
            RAISE EXCEPTION 'a % award needs an amount: the call gives none and xp_rules has none',
                p_action USING ERRCODE = 'null_value_not_allowed';
        END IF;
    END IF;
    INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason)
    VALUES (p_recipient, p_action, p_subject, v_amount, p_reason)
    ON CONFLICT (recipient_id, action, subject) DO NOTHING;
    IF NOT FOUND THEN
        RETURN;
    END IF;
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
        ELSE
            CONTINUE WHEN xp_level(v_total) < (v_candidate->>'level')::INTEGER;
        END IF;
        CONTINUE WHEN EXISTS (SELECT 1 FROM user_achievements a
                               WHERE a.user_id = p_recipient AND a.achievement = v_candidate->>'key');
        IF v_achievement_xp IS NULL THEN
            SELECT r.xp INTO STRICT v_achievement_xp FROM xp_rules r
             WHERE r.action = 'ACHIEVEMENT_EARNED';
        END IF;
        INSERT INTO user_achievements (user_id, achievement) VALUES (p_recipient, v_candidate->>'key');
        INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason)
        VALUES (p_recipient, 'ACHIEVEMENT_EARNED', v_candidate->>'key', v_achievement_xp,
                'Achievement unlocked: ' || (v_candidate->>'name'));
        v_total := v_total + v_achievement_xp;
        v_gained := v_gained + v_achievement_xp;
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

    RETURN QUERY SELECT v_gained, v_total, xp_level(v_total), xp_level(v_before),
                        v_unlocked, now(), v_notification;
END $$;

-- Likes a story the liker may see; the award goes where xp_rules says (the author; an
-- own like pays nothing). No row: the story does not exist or is not visible to the
-- liker. The award columns (recipient_id first) are NULL when nothing was earned.
CREATE FUNCTION like_story(p_story BIGINT, p_liker BIGINT, p_subject TEXT, p_achievements JSONB)
RETURNS TABLE (id BIGINT, author_id BIGINT, title TEXT, published BOOLEAN,
               created_at TIMESTAMPTZ, recipient_id BIGINT, xp_gained INTEGER,
               total_xp INTEGER, level INTEGER, previous_level INTEGER, unlocked TEXT[],
               awarded_at TIMESTAMPTZ, notification_id BIGINT, like_count BIGINT)
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
    v_gained INTEGER;
    v_total INTEGER;
    v_level INTEGER;
    v_previous INTEGER;
    v_unlocked TEXT[];
    v_at TIMESTAMPTZ;
    v_notification BIGINT;
BEGIN
    SELECT s.author_id, s.title, s.published, s.created_at
      INTO v_author, v_title, v_published, v_created
      FROM stories s
     WHERE s.id = p_story AND (s.published OR s.author_id = p_liker);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO story_likes (story_id, user_id) VALUES (p_story, p_liker) ON CONFLICT DO NOTHING;
    SELECT r.recipient, r.pays, r.amount INTO STRICT v_recipient, v_pays, v_amount
      FROM xp_story_rule('STORY_LIKED', v_author, p_liker) r;
    IF v_pays THEN
        SELECT a.xp_gained, a.total_xp, a.level, a.previous_level, a.unlocked, a.awarded_at, a.notification_id
          INTO v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification
          FROM award_xp(v_recipient, 'STORY_LIKED', p_subject, v_amount, NULL, TRUE, p_achievements) a;
    END IF;
    RETURN QUERY SELECT p_story, v_author, v_title, v_published, v_created,
        CASE WHEN v_gained IS NOT NULL THEN v_recipient END,
        v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification,
        (SELECT count(*) FROM story_likes l WHERE l.story_id = p_story);
END $$;

-- Creates a story and awards STORY_CREATED as xp_rules says, keyed by the new story:
-- p_subject_prefix (xp::rules::Subject::STORY_PREFIX) followed by its id, the key
-- Subject::Story makes.
CREATE FUNCTION create_story(
    p_author BIGINT, p_title TEXT, p_content TEXT, p_subject_prefix TEXT, p_achievements JSONB
) RETURNS TABLE (id BIGINT, author_id BIGINT, title TEXT, published BOOLEAN,
                 created_at TIMESTAMPTZ, recipient_id BIGINT, xp_gained INTEGER,
                 total_xp INTEGER, level INTEGER, previous_level INTEGER, unlocked TEXT[],
                 awarded_at TIMESTAMPTZ, notification_id BIGINT, like_count BIGINT)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_id BIGINT;
    v_published BOOLEAN;
    v_created TIMESTAMPTZ;
    v_recipient BIGINT;
    v_pays BOOLEAN;
    v_amount INTEGER;
    v_gained INTEGER;
    v_total INTEGER;
    v_level INTEGER;
    v_previous INTEGER;
    v_unlocked TEXT[];
    v_at TIMESTAMPTZ;
    v_notification BIGINT;
BEGIN
    INSERT INTO stories (author_id, title, content) VALUES (p_author, p_title, p_content)
    RETURNING stories.id, stories.published, stories.created_at
         INTO v_id, v_published, v_created;
    SELECT r.recipient, r.pays, r.amount INTO STRICT v_recipient, v_pays, v_amount
      FROM xp_story_rule('STORY_CREATED', p_author, p_author) r;
    IF v_pays THEN
        SELECT a.xp_gained, a.total_xp, a.level, a.previous_level, a.unlocked, a.awarded_at, a.notification_id
          INTO v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification
          FROM award_xp(v_recipient, 'STORY_CREATED', p_subject_prefix || v_id, v_amount,
                        NULL, TRUE, p_achievements) a;
    END IF;
    RETURN QUERY SELECT v_id, p_author, p_title, v_published, v_created,
        CASE WHEN v_gained IS NOT NULL THEN v_recipient END,
        v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification, 0::BIGINT;
END $$;

-- Likes in batches (see migration 000006 for the locking). The rows taken up front, in
-- ascending id order, are everyone the batch may award: the liked stories' authors
-- (every like of a story queues on its author's row), and the likers too if xp_rules
-- pays STORY_LIKED to the ACTOR (xp_story_rule pays only those two). While it pays the
-- author, the lock is the statement of migration 000006, unchanged.
CREATE FUNCTION like_stories(
    p_stories BIGINT[], p_likers BIGINT[], p_subjects TEXT[], p_achievements JSONB
) RETURNS TABLE (ord BIGINT, id BIGINT, author_id BIGINT, title TEXT, published BOOLEAN,
                 created_at TIMESTAMPTZ, recipient_id BIGINT, xp_gained INTEGER,
                 total_xp INTEGER, level INTEGER, previous_level INTEGER, unlocked TEXT[],
                 awarded_at TIMESTAMPTZ, notification_id BIGINT, like_count BIGINT)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_like RECORD;
    v_recipient TEXT;
BEGIN
    SELECT r.recipient INTO STRICT v_recipient FROM xp_rules r WHERE r.action = 'STORY_LIKED';
    IF v_recipient = 'ACTOR' THEN
        PERFORM 1 FROM users u
         WHERE u.id IN (SELECT s.author_id FROM stories s WHERE s.id = ANY (p_stories)
                        UNION ALL
                        SELECT l.liker FROM unnest(p_likers) AS l (liker))
         ORDER BY u.id
           FOR NO KEY UPDATE;
    ELSE
        PERFORM 1 FROM users u
         WHERE u.id IN (SELECT s.author_id FROM stories s WHERE s.id = ANY (p_stories))
         ORDER BY u.id
           FOR NO KEY UPDATE;
    END IF;
    FOR v_like IN
        SELECT l.n, l.story, l.liker, l.subject
          FROM unnest(p_stories, p_likers, p_subjects) WITH ORDINALITY
               AS l (story, liker, subject, n)
          LEFT JOIN stories s ON s.id = l.story
         ORDER BY s.author_id, l.story, l.liker, l.n
    LOOP
        RETURN QUERY SELECT v_like.n, r.id, r.author_id, r.title, r.published,
            r.created_at, r.recipient_id, r.xp_gained, r.total_xp, r.level,
            r.previous_level, r.unlocked, r.awarded_at, r.notification_id, r.like_count
          FROM like_story(v_like.story, v_like.liker, v_like.subject, p_achievements) r;
    END LOOP;
END $$;
