DROP FUNCTION xp_stats_rebuild();
DROP FUNCTION xp_stats_compact();
DROP TRIGGER users_stats_pending ON users;
DROP FUNCTION users_stats_pending();
CREATE OR REPLACE FUNCTION xp_ledger_apply() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off SET jit = off AS $$
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
DROP TABLE xp_stats_levels, xp_stats_active, xp_stats_days, xp_stats_daily, xp_stats_pending;
