-- Likes in a batch wait less on each other (issue: the daily loop's likes were 16%
-- slower at 16 clients).
--   * like_stories locks the likers' rows up front only when the like is the liker's
--     first activity of a local date (xp_activity then writes the row: quests, streak,
--     the streak bonus). Every other like writes only the liker's daily_quests row, so
--     other batches that pay or move that user no longer wait for this one's commit.
--     The authors' rows are locked up front as before (every like pays its author).
--     Each like's date is read at the like's instant, as xp_activity reads it: one
--     transaction's storyxp_now() does not move, so the decision holds until commit.
--   * The likes run in liker order: the only rows a batch locks after its up-front lock
--     are keyed by the liker (daily_quests, story_likes, the ledger keys of the like),
--     so two batches take them in the same order and cannot deadlock.
--   * xp_activity updates the user's row once at a date's first activity (quests and
--     streak together), not twice.

CREATE OR REPLACE FUNCTION xp_activity(
    p_user BIGINT, p_quest TEXT, p_subject TEXT, p_on_own_story BOOLEAN, p_achievements JSONB
) RETURNS TABLE (xp_gained INTEGER, total_xp INTEGER, level INTEGER, previous_level INTEGER,
                 unlocked TEXT[], awarded_at TIMESTAMPTZ, notification_id BIGINT,
                 entries BIGINT[])
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
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
            v_last := v_today;
            v_bonus := v_current >= 2;
        END IF;
        -- One update of the row for both (a user row's update is not HOT: the
        -- leaderboard index covers experience_points).
        UPDATE users SET quest_date = v_today, streak_current = v_current,
                         streak_longest = v_longest, streak_last_date = v_last,
                         streak_freezes = v_freezes
         WHERE id = p_user;
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

CREATE OR REPLACE FUNCTION like_stories(
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
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
#variable_conflict use_column
DECLARE
    v_like RECORD;
BEGIN
    PERFORM 1 FROM users u
     WHERE u.id IN (SELECT s.author_id FROM stories s WHERE s.id = ANY (p_stories)
                    UNION ALL
                    SELECT l.liker
                      FROM unnest(p_likers, p_nows) AS l (liker, at)
                      JOIN users v ON v.id = l.liker
                     CROSS JOIN LATERAL (SELECT (coalesce(l.at, storyxp_now()) AT TIME ZONE v.timezone)::DATE
                                         AS today) d
                     WHERE v.quest_date IS DISTINCT FROM d.today
                        OR v.streak_last_date IS NULL OR v.streak_last_date < d.today)
     ORDER BY u.id
       FOR NO KEY UPDATE;
    FOR v_like IN
        SELECT l.n, l.story, l.liker, l.subject
          FROM unnest(p_stories, p_likers, p_subjects) WITH ORDINALITY
               AS l (story, liker, subject, n)
         ORDER BY l.liker, l.story, l.n
    LOOP
        IF p_nows IS NOT NULL THEN
            PERFORM set_config('storyxp.now', coalesce(p_nows[v_like.n]::TEXT, ''), true);
        END IF;
        RETURN QUERY SELECT v_like.n, r.*
          FROM like_story(v_like.story, v_like.liker, v_like.subject, p_achievements,
                          p_quest, p_streak_achievements) r;
    END LOOP;
END $$;
