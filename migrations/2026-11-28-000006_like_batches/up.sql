-- Likes in batches: storyxp gathers the likes of concurrent requests and runs them in
-- one statement, one transaction, so that one commit (one WAL flush) makes them all
-- durable instead of one commit each.
--
-- Locks: a batch takes all its authors' rows up front, in ascending id order (as every
-- transaction that locks several user rows does), before it writes anything; then it
-- likes in (author, story, liker) order with like_story. Two batches liking the same
-- pair therefore queue on the author's row and never hold one another's entries, so
-- batches cannot deadlock. The rows are taken FOR NO KEY UPDATE, the lock the XP update
-- takes anyway: FOR UPDATE would also block the key-share locks that foreign keys take
-- on a user row (a like by a user who is an author in another batch), and two such
-- batches would deadlock. like_story alone writes the like before it locks the author:
-- storyxp always likes through like_stories, even a single like.

-- p_stories, p_likers, p_subjects: one element per like. Each row carries the 1-based
-- position (ord) of its like; a like of a story the liker may not see has no row.
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
