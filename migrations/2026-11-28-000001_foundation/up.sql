-- The foundation: accounts, stories, likes, the XP ledger, achievements and notifications.
-- Every XP invariant is enforced here, so that no code path (or psql session) can break it:
--   * experience_points only changes by inserting into the append-only xp_ledger,
--     so it always equals the sum of the user's ledger entries;
--   * it never decreases and is never negative; level always equals xp / 500 + 1;
--   * each deduplicated award happens at most once (unique key on the ledger).

CREATE TABLE users (
    id                BIGSERIAL PRIMARY KEY,
    username          TEXT NOT NULL CONSTRAINT users_username_format CHECK (username ~ '^[A-Za-z0-9_]{3,32}$'),
    email             TEXT NOT NULL CONSTRAINT users_email_length CHECK (length(email) BETWEEN 3 AND 254),
    password_hash     TEXT NOT NULL,
    experience_points INTEGER NOT NULL DEFAULT 0 CONSTRAINT users_xp_not_negative CHECK (experience_points >= 0),
    level             INTEGER NOT NULL DEFAULT 1,
    is_admin          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_level_matches_xp CHECK (level = experience_points / 500 + 1)
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_leaderboard_idx ON users (experience_points DESC, username);

CREATE TABLE xp_ledger (
    id           BIGSERIAL PRIMARY KEY,
    recipient_id BIGINT NOT NULL REFERENCES users (id),
    action       TEXT NOT NULL CONSTRAINT xp_ledger_action_known CHECK (action IN (
                     'STORY_CREATED', 'STORY_PUBLISHED', 'COLLABORATION_COMPLETED', 'STORY_LIKED',
                     'STORY_COMMENTED', 'FRIEND_ADDED', 'CHARACTER_CREATED', 'STORY_READ',
                     'ACHIEVEMENT_EARNED', 'CUSTOM')),
    -- What the award is for ("story:7", "story:7:by:3"); NULL for awards that are never
    -- deduplicated (admin awards), since NULLs never collide in a unique index.
    subject      TEXT,
    amount       INTEGER NOT NULL CONSTRAINT xp_ledger_amount_positive CHECK (amount > 0),
    reason       TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX xp_ledger_once_key ON xp_ledger (recipient_id, action, subject);
CREATE INDEX xp_ledger_history_idx ON xp_ledger (recipient_id, id DESC);

-- How many awards of each action a user received: the counts achievements are judged on.
CREATE TABLE user_action_counts (
    user_id BIGINT NOT NULL REFERENCES users (id),
    action  TEXT NOT NULL,
    count   INTEGER NOT NULL CHECK (count > 0),
    PRIMARY KEY (user_id, action)
);

CREATE FUNCTION xp_ledger_apply() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER xp_ledger_apply AFTER INSERT ON xp_ledger
    FOR EACH ROW EXECUTE FUNCTION xp_ledger_apply();

CREATE FUNCTION xp_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'xp_ledger is append-only: XP once earned is never taken back'
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER xp_ledger_append_only BEFORE UPDATE OR DELETE ON xp_ledger
    FOR EACH ROW EXECUTE FUNCTION xp_ledger_append_only();
CREATE TRIGGER xp_ledger_no_truncate BEFORE TRUNCATE ON xp_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION xp_ledger_append_only();

-- The counter moves only from inside xp_ledger_apply (trigger depth 2), and only upwards.
CREATE FUNCTION users_guard_xp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.experience_points <> 0 THEN
            RAISE EXCEPTION 'a new user starts with 0 XP; XP is earned through xp_ledger'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.experience_points < OLD.experience_points THEN
        RAISE EXCEPTION 'experience_points never decreases (user %: % -> %)',
            OLD.id, OLD.experience_points, NEW.experience_points
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.experience_points <> OLD.experience_points AND pg_trigger_depth() < 2 THEN
        RAISE EXCEPTION 'experience_points changes only by inserting into xp_ledger'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER users_guard_xp BEFORE INSERT OR UPDATE OF experience_points ON users
    FOR EACH ROW EXECUTE FUNCTION users_guard_xp();

CREATE TABLE stories (
    id         BIGSERIAL PRIMARY KEY,
    author_id  BIGINT NOT NULL REFERENCES users (id),
    title      TEXT NOT NULL CONSTRAINT stories_title_length CHECK (length(title) BETWEEN 1 AND 200),
    content    TEXT NOT NULL CONSTRAINT stories_content_length CHECK (length(content) <= 100000),
    published  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX stories_published_idx ON stories (id DESC) WHERE published;
CREATE INDEX stories_author_idx ON stories (author_id, id DESC);

CREATE TABLE story_likes (
    story_id   BIGINT NOT NULL REFERENCES stories (id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (story_id, user_id)
);

CREATE TABLE user_achievements (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    achievement TEXT NOT NULL,
    earned_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT user_achievements_once UNIQUE (user_id, achievement)
);

CREATE TABLE notifications (
    id          BIGSERIAL PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users (id),
    kind        TEXT NOT NULL CONSTRAINT notifications_kind_known CHECK (kind IN ('ACHIEVEMENT_EARNED')),
    message     TEXT NOT NULL,
    level       INTEGER,
    achievement TEXT,
    read        BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT notifications_level_or_achievement CHECK ((level IS NULL) <> (achievement IS NULL))
);
CREATE INDEX notifications_user_idx ON notifications (user_id, id DESC);
CREATE INDEX notifications_unread_idx ON notifications (user_id, id DESC) WHERE NOT read;

-- The one award function. Called inside the caller's transaction, it
--   1. appends the ledger entry, or does nothing at all when this award was already made;
--   2. unlocks the candidate achievements whose threshold is now reached (each once,
--      +p_achievement_xp each, one pass: achievements never trigger further achievements
--      except the level-based ones, which Rust lists after the count-based ones);
--   3. stores one level-up notification when the call raised the level (unless
--      p_notify is false) and announces it with NOTIFY, which PostgreSQL delivers only
--      when the transaction commits.
-- p_achievements: [{"key", "name", "action", "count"} | {"key", "name", "level"}].
-- Returns no row for a duplicate award.
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
