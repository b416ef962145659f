DROP TRIGGER story_likes_removed ON story_likes;
DROP TRIGGER story_likes_added ON story_likes;
DROP FUNCTION story_likes_removed();
DROP FUNCTION story_likes_added();
-- like_story as migration 000014 left it.
CREATE OR REPLACE FUNCTION like_story(
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
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
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
    v_day_recorded BOOLEAN;
    v_today DATE;
BEGIN
    -- The story, its rule and whether the liker's local date is already recorded (its
    -- quests made, its streak moved), in one statement.
    SELECT s.author_id, s.title, s.published, s.created_at, r.recipient, r.pays, r.amount,
           d.today, (u.quest_date = d.today AND u.streak_last_date >= d.today)
      INTO v_author, v_title, v_published, v_created, v_recipient, v_pays, v_amount,
           v_today, v_day_recorded
      FROM stories s
      JOIN users u ON u.id = p_liker
      LEFT JOIN LATERAL xp_story_rule('STORY_LIKED', s.author_id, p_liker) r ON TRUE
     CROSS JOIN LATERAL (SELECT xp_local_date(u.timezone) AS today) d
     WHERE s.id = p_story AND (s.published OR s.author_id = p_liker);
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_pays IS NULL THEN
        RAISE EXCEPTION 'no XP rule for STORY_LIKED' USING ERRCODE = 'foreign_key_violation';
    END IF;
    INSERT INTO story_likes (story_id, user_id) VALUES (p_story, p_liker) ON CONFLICT DO NOTHING;
    IF v_day_recorded THEN
        -- No streak bonus: v_bonus all NULL (the one-time filter keeps xp_activity from
        -- running at all).
        SELECT * INTO v_bonus FROM xp_activity(p_liker, NULL, NULL, FALSE, NULL) WHERE FALSE;
        -- xp_activity would only advance the quest: do that here, one statement instead
        -- of a call and two (the same UPDATE as xp_activity's step 2).
        IF p_quest IS NOT NULL THEN
            UPDATE daily_quests d
               SET progress = d.progress + 1, subjects = d.subjects || p_story::TEXT
              FROM xp_quests q
             WHERE d.user_id = p_liker AND d.date = v_today AND d.quest = p_quest
               AND q.key = d.quest AND d.progress < d.target
               AND NOT (q.others_only AND v_author = p_liker)
               AND NOT (p_story::TEXT = ANY (d.subjects));
        END IF;
    ELSE
        SELECT * INTO v_bonus FROM xp_activity(p_liker, p_quest, p_story::TEXT, v_author = p_liker,
                                               p_streak_achievements);
    END IF;
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
DROP TABLE story_like_counts;
