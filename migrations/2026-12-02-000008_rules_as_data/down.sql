-- Back to the functions of migrations 000001 to 000006: amounts, the achievement XP and
-- the level size as they were written there. xp_level() stays: storyxp defines it at
-- every migrate, before the migrations.
DROP FUNCTION like_stories(BIGINT[], BIGINT[], TEXT[], JSONB);
DROP FUNCTION like_story(BIGINT, BIGINT, TEXT, JSONB);
DROP FUNCTION create_story(BIGINT, TEXT, TEXT, TEXT, JSONB);
DROP FUNCTION award_xp(BIGINT, TEXT, TEXT, INTEGER, TEXT, BOOLEAN, JSONB);
DROP FUNCTION xp_story_rule(TEXT, BIGINT, BIGINT);

ALTER TABLE users DROP CONSTRAINT users_level_matches_xp,
    ADD CONSTRAINT users_level_matches_xp CHECK (level = experience_points / 500 + 1);

CREATE OR REPLACE FUNCTION xp_ledger_apply() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
BEGIN
    UPDATE users
       SET experience_points = experience_points + NEW.amount,
           level = (experience_points + NEW.amount) / 500 + 1
     WHERE id = NEW.recipient_id;
    INSERT INTO user_action_counts (user_id, action, count)
    VALUES (NEW.recipient_id, NEW.action, 1)
    ON CONFLICT (user_id, action) DO UPDATE SET count = user_action_counts.count + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION award_xp(
    p_recipient BIGINT, p_action TEXT, p_subject TEXT, p_amount INTEGER, p_reason TEXT,
    p_notify BOOLEAN, p_achievement_xp INTEGER, p_achievements JSONB
) RETURNS TABLE (xp_gained INTEGER, total_xp INTEGER, level INTEGER, previous_level INTEGER,
                 unlocked TEXT[], awarded_at TIMESTAMPTZ, notification_id BIGINT)
LANGUAGE plpgsql AS $$
DECLARE
    v_total INTEGER;
    v_before INTEGER;
    v_gained INTEGER := p_amount;
    v_unlocked TEXT[] := '{}';
    v_count INTEGER;
    v_notification BIGINT;
    v_candidate JSONB;
BEGIN
    INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason)
    VALUES (p_recipient, p_action, p_subject, p_amount, p_reason)
    ON CONFLICT (recipient_id, action, subject) DO NOTHING;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- The ledger trigger has locked and updated the user's row: awards to one user are
    -- serialised from here to commit, so the counts read below are exact.
    SELECT u.experience_points INTO v_total FROM users u WHERE u.id = p_recipient;
    v_before := v_total - p_amount;

    FOR v_candidate IN SELECT value FROM jsonb_array_elements(p_achievements) LOOP
        IF v_candidate ? 'count' THEN
            SELECT c.count INTO v_count FROM user_action_counts c
             WHERE c.user_id = p_recipient AND c.action = v_candidate->>'action';
            CONTINUE WHEN coalesce(v_count, 0) < (v_candidate->>'count')::INTEGER;
        ELSE
            CONTINUE WHEN v_total / 500 + 1 < (v_candidate->>'level')::INTEGER;
        END IF;
        CONTINUE WHEN EXISTS (SELECT 1 FROM user_achievements a
                               WHERE a.user_id = p_recipient AND a.achievement = v_candidate->>'key');
        INSERT INTO user_achievements (user_id, achievement) VALUES (p_recipient, v_candidate->>'key');
        INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason)
        VALUES (p_recipient, 'ACHIEVEMENT_EARNED', v_candidate->>'key', p_achievement_xp,
                'Achievement unlocked: ' || (v_candidate->>'name'));
        v_total := v_total + p_achievement_xp;
        v_gained := v_gained + p_achievement_xp;
        v_unlocked := v_unlocked || (v_candidate->>'key');
        IF p_notify THEN
            INSERT INTO notifications (user_id, kind, message, achievement)
            VALUES (p_recipient, 'ACHIEVEMENT_EARNED',
                    'Achievement unlocked: ' || (v_candidate->>'name') || '!', v_candidate->>'key');
        END IF;
    END LOOP;

    IF p_notify AND v_total / 500 > v_before / 500 THEN
        INSERT INTO notifications (user_id, kind, message, level)
        VALUES (p_recipient, 'ACHIEVEMENT_EARNED',
                format('Level up! You reached level %s.', v_total / 500 + 1), v_total / 500 + 1)
        RETURNING id INTO v_notification;
        PERFORM pg_notify('storyxp_level_up', json_build_object(
            'user_id', p_recipient, 'notification_id', v_notification,
            'level', v_total / 500 + 1, 'previous_level', v_before / 500 + 1,
            'total_xp', v_total)::TEXT);
    END IF;

    RETURN QUERY SELECT v_gained, v_total, v_total / 500 + 1, v_before / 500 + 1,
                        v_unlocked, now(), v_notification;
END $$;
ALTER FUNCTION award_xp(BIGINT, TEXT, TEXT, INTEGER, TEXT, BOOLEAN, INTEGER, JSONB)
    SET enable_seqscan = off;

-- Likes a story the liker may see; the author's award unless it is the liker's own.
-- No row: the story does not exist or is not visible to the liker.
CREATE FUNCTION like_story(
    p_story BIGINT, p_liker BIGINT, p_subject TEXT, p_amount INTEGER,
    p_achievement_xp INTEGER, p_achievements JSONB
) RETURNS TABLE (id BIGINT, author_id BIGINT, title TEXT, published BOOLEAN,
                 created_at TIMESTAMPTZ, xp_gained INTEGER, total_xp INTEGER, level INTEGER,
                 previous_level INTEGER, unlocked TEXT[], awarded_at TIMESTAMPTZ,
                 notification_id BIGINT, like_count BIGINT)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_author BIGINT;
    v_title TEXT;
    v_published BOOLEAN;
    v_created TIMESTAMPTZ;
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
    IF v_author <> p_liker THEN
        SELECT a.xp_gained, a.total_xp, a.level, a.previous_level, a.unlocked, a.awarded_at, a.notification_id
          INTO v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification
          FROM award_xp(v_author, 'STORY_LIKED', p_subject, p_amount,
                        NULL, TRUE, p_achievement_xp, p_achievements) a;
    END IF;
    -- The award columns are NULL when nothing was earned.
    RETURN QUERY SELECT p_story, v_author, v_title, v_published, v_created,
        v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification,
        (SELECT count(*) FROM story_likes l WHERE l.story_id = p_story);
END $$;

-- Creates a story and awards STORY_CREATED, keyed by the new story ('story:<id>', the
-- key xp::rules::Subject::Story makes).
CREATE FUNCTION create_story(
    p_author BIGINT, p_title TEXT, p_content TEXT, p_amount INTEGER,
    p_achievement_xp INTEGER, p_achievements JSONB
) RETURNS TABLE (id BIGINT, author_id BIGINT, title TEXT, published BOOLEAN,
                 created_at TIMESTAMPTZ, xp_gained INTEGER, total_xp INTEGER, level INTEGER,
                 previous_level INTEGER, unlocked TEXT[], awarded_at TIMESTAMPTZ,
                 notification_id BIGINT, like_count BIGINT)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_id BIGINT;
    v_published BOOLEAN;
    v_created TIMESTAMPTZ;
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
    SELECT a.xp_gained, a.total_xp, a.level, a.previous_level, a.unlocked, a.awarded_at, a.notification_id
      INTO v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification
      FROM award_xp(p_author, 'STORY_CREATED', 'story:' || v_id,
                    p_amount, NULL, TRUE, p_achievement_xp, p_achievements) a;
    RETURN QUERY SELECT v_id, p_author, p_title, v_published, v_created,
        v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification, 0::BIGINT;
END $$;

CREATE FUNCTION like_stories(
    p_stories BIGINT[], p_likers BIGINT[], p_subjects TEXT[], p_amount INTEGER,
    p_achievement_xp INTEGER, p_achievements JSONB
) RETURNS TABLE (ord BIGINT, id BIGINT, author_id BIGINT, title TEXT, published BOOLEAN,
                 created_at TIMESTAMPTZ, xp_gained INTEGER, total_xp INTEGER, level INTEGER,
                 previous_level INTEGER, unlocked TEXT[], awarded_at TIMESTAMPTZ,
                 notification_id BIGINT, like_count BIGINT)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_like RECORD;
BEGIN
    PERFORM 1 FROM users u
     WHERE u.id IN (SELECT s.author_id FROM stories s WHERE s.id = ANY (p_stories))
     ORDER BY u.id
       FOR NO KEY UPDATE;
    FOR v_like IN
        SELECT l.n, l.story, l.liker, l.subject
          FROM unnest(p_stories, p_likers, p_subjects) WITH ORDINALITY
               AS l (story, liker, subject, n)
          LEFT JOIN stories s ON s.id = l.story
         ORDER BY s.author_id, l.story, l.liker, l.n
    LOOP
        RETURN QUERY SELECT v_like.n, r.id, r.author_id, r.title, r.published,
            r.created_at, r.xp_gained, r.total_xp, r.level, r.previous_level, r.unlocked,
            r.awarded_at, r.notification_id, r.like_count
          FROM like_story(v_like.story, v_like.liker, v_like.subject, p_amount,
                          p_achievement_xp, p_achievements) r;
    END LOOP;
END $$;

DROP TABLE xp_rules;
