-- like_story and create_story no longer carry the story's text (up to 100,000
-- characters): a like read it into a row variable (detoasting it) and sent it back on
-- every call, though a likeStory payload seldom asks for it. createStory's caller has
-- the text it sent, and storyxp reads a liked story's text only when a payload asks.
-- A function's result type cannot be changed in place: drop and create again.
DROP FUNCTION like_story(BIGINT, BIGINT, TEXT, INTEGER, INTEGER, JSONB);
DROP FUNCTION create_story(BIGINT, TEXT, TEXT, INTEGER, INTEGER, JSONB);

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
