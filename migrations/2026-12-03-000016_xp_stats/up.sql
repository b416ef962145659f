-- Economy statistics (contract, "Balance (admins)": xpStats) that stay fast as data
-- grows: rollups maintained with the awards, read instead of the ledger.
--   * Every ledger entry (xp_ledger_apply, the trigger every award already runs) and
--     every new user (users_stats_pending) appends a row to xp_stats_pending, in the
--     award's own transaction: an insert into a table without indexes, which no two
--     transactions ever contend for (no shared counter row is locked on the hot path).
--   * xp_stats_compact(), run every second by an instance (one at a time: an advisory
--     lock), moves the pending rows into the rollups in one transaction. A row is either
--     still pending or in the rollups, never both and never neither, whatever order
--     transactions commit in: the DELETE moves exactly the committed rows it sees.
--   * xpStats reads rollups + pending in one snapshot, so it is exact at any instant,
--     compacted or not. Its cost depends on the days asked for and the pending rows
--     (about a second's worth), not on the number of users or ledger entries.
-- Days are UTC dates of the entries' instants (storyxp_now(), so the test clock moves
-- them too).

CREATE TABLE xp_stats_pending (
    day        DATE NOT NULL,
    -- NULL: not an award but a new user (level_to 1).
    action     TEXT,
    user_id    BIGINT NOT NULL,
    xp         INTEGER NOT NULL DEFAULT 0,
    -- A level change: the level left (NULL for a new user) and the level reached.
    level_from INTEGER,
    level_to   INTEGER
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000);

-- Awards and XP per (UTC day, action).
CREATE TABLE xp_stats_daily (
    day    DATE NOT NULL,
    action TEXT NOT NULL,
    awards BIGINT NOT NULL,
    xp     BIGINT NOT NULL,
    PRIMARY KEY (day, action)
);

-- Users with at least one award per UTC day: the count, and who (so that a user is
-- counted once per day; kept for 400 days, longer than xpStats looks back).
CREATE TABLE xp_stats_days (
    day          DATE PRIMARY KEY,
    active_users BIGINT NOT NULL
);
CREATE TABLE xp_stats_active (
    day     DATE NOT NULL,
    user_id BIGINT NOT NULL,
    PRIMARY KEY (day, user_id)
);

-- Users per level.
CREATE TABLE xp_stats_levels (
    level INTEGER PRIMARY KEY,
    users BIGINT NOT NULL
);

CREATE OR REPLACE FUNCTION xp_ledger_apply() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
DECLARE
    v_level INTEGER;
    v_before INTEGER;
BEGIN
    UPDATE users
       SET experience_points = experience_points + NEW.amount,
           level = xp_level(experience_points + NEW.amount)
     WHERE id = NEW.recipient_id
    RETURNING level, xp_level(experience_points - NEW.amount) INTO v_level, v_before;
    INSERT INTO user_action_counts (user_id, action, count)
    VALUES (NEW.recipient_id, NEW.action, 1)
    ON CONFLICT (user_id, action) DO UPDATE SET count = user_action_counts.count + 1;
    INSERT INTO xp_stats_pending (day, action, user_id, xp, level_from, level_to)
    VALUES ((NEW.created_at AT TIME ZONE 'UTC')::DATE, NEW.action, NEW.recipient_id, NEW.amount,
            CASE WHEN v_level <> v_before THEN v_before END,
            CASE WHEN v_level <> v_before THEN v_level END);
    RETURN NULL;
END $$;

CREATE FUNCTION users_stats_pending() RETURNS trigger LANGUAGE plpgsql SET jit = off AS $$
BEGIN
    INSERT INTO xp_stats_pending (day, action, user_id, level_to)
    VALUES ((storyxp_now() AT TIME ZONE 'UTC')::DATE, NULL, NEW.id, NEW.level);
    RETURN NULL;
END $$;
CREATE TRIGGER users_stats_pending AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION users_stats_pending();

-- Moves the pending rows into the rollups; the number moved (0 when another
-- compaction is running: it moves them).
CREATE FUNCTION xp_stats_compact() RETURNS BIGINT LANGUAGE plpgsql SET jit = off AS $$
DECLARE
    v_moved BIGINT;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('xp_stats_compact')) THEN
        RETURN 0;
    END IF;
    WITH moved AS (
        DELETE FROM xp_stats_pending RETURNING *
    ), awards AS (
        INSERT INTO xp_stats_daily (day, action, awards, xp)
        SELECT m.day, m.action, count(*), sum(m.xp) FROM moved m
         WHERE m.action IS NOT NULL GROUP BY m.day, m.action
        ON CONFLICT (day, action) DO UPDATE
           SET awards = xp_stats_daily.awards + EXCLUDED.awards,
               xp = xp_stats_daily.xp + EXCLUDED.xp
    ), newly_active AS (
        INSERT INTO xp_stats_active (day, user_id)
        SELECT DISTINCT m.day, m.user_id FROM moved m WHERE m.action IS NOT NULL
        ON CONFLICT DO NOTHING
        RETURNING day
    ), days AS (
        INSERT INTO xp_stats_days (day, active_users)
        SELECT a.day, count(*) FROM newly_active a GROUP BY a.day
        ON CONFLICT (day) DO UPDATE SET active_users = xp_stats_days.active_users + EXCLUDED.active_users
    ), levels AS (
        INSERT INTO xp_stats_levels (level, users)
        SELECT c.level, sum(c.users) FROM (
            SELECT m.level_to AS level, 1 AS users FROM moved m WHERE m.level_to IS NOT NULL
            UNION ALL
            SELECT m.level_from, -1 FROM moved m WHERE m.level_from IS NOT NULL) c
         GROUP BY c.level
        ON CONFLICT (level) DO UPDATE SET users = xp_stats_levels.users + EXCLUDED.users
    )
    SELECT count(*) INTO v_moved FROM moved;
    -- Who was active is needed only as far back as xpStats looks (365 days), and only
    -- for entries that can still arrive; the count per day stays.
    DELETE FROM xp_stats_active WHERE day < (now() AT TIME ZONE 'UTC')::DATE - 400;
    RETURN v_moved;
END $$;

-- Recomputes every rollup from the ledger and the users (this migration's starting
-- point, and a repair): under locks that hold awards and sign-ups off meanwhile.
CREATE FUNCTION xp_stats_rebuild() RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE users, xp_ledger IN SHARE MODE;
    PERFORM pg_advisory_xact_lock(hashtext('xp_stats_compact'));
    TRUNCATE xp_stats_pending, xp_stats_daily, xp_stats_days, xp_stats_active, xp_stats_levels;
    INSERT INTO xp_stats_daily (day, action, awards, xp)
    SELECT (l.created_at AT TIME ZONE 'UTC')::DATE, l.action, count(*), sum(l.amount)
      FROM xp_ledger l GROUP BY 1, 2;
    INSERT INTO xp_stats_days (day, active_users)
    SELECT (l.created_at AT TIME ZONE 'UTC')::DATE, count(DISTINCT l.recipient_id)
      FROM xp_ledger l GROUP BY 1;
    INSERT INTO xp_stats_active (day, user_id)
    SELECT DISTINCT (l.created_at AT TIME ZONE 'UTC')::DATE, l.recipient_id FROM xp_ledger l
     WHERE l.created_at >= now() - INTERVAL '401 days';
    INSERT INTO xp_stats_levels (level, users)
    SELECT u.level, count(*) FROM users u GROUP BY u.level;
END $$;

SELECT xp_stats_rebuild();
