-- The functions as migration 000004 made them (returning the story's text).
DROP FUNCTION like_story(BIGINT, BIGINT, TEXT, INTEGER, INTEGER, JSONB);
DROP FUNCTION create_story(BIGINT, TEXT, TEXT, INTEGER, INTEGER, JSONB);

-- Likes a story the liker may see; the author's award unless it is the liker's own.
-- No row: the story does not exist or is not visible to the liker.
CREATE FUNCTION like_story(
    p_story BIGINT, p_liker BIGINT, p_subject TEXT, p_amount INTEGER,
    p_achievement_xp INTEGER, p_achievements JSONB
) RETURNS TABLE (id BIGINT, author_id BIGINT, title TEXT, content TEXT, published BOOLEAN,
                 created_at TIMESTAMPTZ, xp_gained INTEGER, total_xp INTEGER, level INTEGER,
                 previous_level INTEGER, unlocked TEXT[], awarded_at TIMESTAMPTZ,
                 notification_id BIGINT, like_count BIGINT)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_story stories%ROWTYPE;
    v_gained INTEGER;
    v_total INTEGER;
    v_level INTEGER;
    v_previous INTEGER;
    v_unlocked TEXT[];
    v_at TIMESTAMPTZ;
    v_notification BIGINT;
BEGIN
    SELECT s.* INTO v_story FROM stories s
     WHERE s.id = p_story AND (s.published OR s.author_id = p_liker);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO story_likes (story_id, user_id) VALUES (p_story, p_liker) ON CONFLICT DO NOTHING;
    IF v_story.author_id <> p_liker THEN
        SELECT a.xp_gained, a.total_xp, a.level, a.previous_level, a.unlocked, a.awarded_at, a.notification_id
          INTO v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification
          FROM award_xp(v_story.author_id, 'STORY_LIKED', p_subject, p_amount,
                        NULL, TRUE, p_achievement_xp, p_achievements) a;
    END IF;
    -- The award columns are NULL when nothing was earned.
    RETURN QUERY SELECT v_story.id, v_story.author_id, v_story.title, v_story.content,
        v_story.published, v_story.created_at, v_gained, v_total, v_level, v_previous,
        v_unlocked, v_at, v_notification,
        (SELECT count(*) FROM story_likes l WHERE l.story_id = p_story);
END $$;

-- Creates a story and awards STORY_CREATED, keyed by the new story ('story:<id>', the
-- key xp::rules::Subject::Story makes).
CREATE FUNCTION create_story(
    p_author BIGINT, p_title TEXT, p_content TEXT, p_amount INTEGER,
    p_achievement_xp INTEGER, p_achievements JSONB
) RETURNS TABLE (id BIGINT, author_id BIGINT, title TEXT, content TEXT, published BOOLEAN,
                 created_at TIMESTAMPTZ, xp_gained INTEGER, total_xp INTEGER, level INTEGER,
                 previous_level INTEGER, unlocked TEXT[], awarded_at TIMESTAMPTZ,
                 notification_id BIGINT, like_count BIGINT)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
    v_story stories%ROWTYPE;
    v_gained INTEGER;
    v_total INTEGER;
    v_level INTEGER;
    v_previous INTEGER;
    v_unlocked TEXT[];
    v_at TIMESTAMPTZ;
    v_notification BIGINT;
BEGIN
    INSERT INTO stories (author_id, title, content) VALUES (p_author, p_title, p_content)
    RETURNING * INTO v_story;
    SELECT a.xp_gained, a.total_xp, a.level, a.previous_level, a.unlocked, a.awarded_at, a.notification_id
      INTO v_gained, v_total, v_level, v_previous, v_unlocked, v_at, v_notification
      FROM award_xp(p_author, 'STORY_CREATED', 'story:' || v_story.id,
                    p_amount, NULL, TRUE, p_achievement_xp, p_achievements) a;
    RETURN QUERY SELECT v_story.id, v_story.author_id, v_story.title, v_story.content,
        v_story.published, v_story.created_at, v_gained, v_total, v_level, v_previous,
        v_unlocked, v_at, v_notification, 0::BIGINT;
END $$;
