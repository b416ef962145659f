-- award_xp as migration 000014 made it.
CREATE OR REPLACE FUNCTION award_xp(
    p_recipient BIGINT, p_action TEXT, p_subject TEXT, p_amount INTEGER, p_reason TEXT,
    p_notify BOOLEAN, p_achievements JSONB, p_caps BOOLEAN
) RETURNS TABLE (xp_gained INTEGER, total_xp INTEGER, level INTEGER, previous_level INTEGER,
                 unlocked TEXT[], awarded_at TIMESTAMPTZ, notification_id BIGINT,
                 entries BIGINT[])
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
DECLARE
    v_amount INTEGER := p_amount;
    v_rule_xp INTEGER;
    v_limit INTEGER;
    v_boostable BOOLEAN;
    v_base INTEGER;
    v_boost BIGINT;
    v_hundredths INTEGER;
    v_watched BOOLEAN;
    v_date DATE;
    v_count INTEGER;
    v_achievement_xp INTEGER;
    v_total INTEGER;
    v_before INTEGER;
    v_gained INTEGER;
    v_unlocked TEXT[] := '{}';
    v_entries BIGINT[];
    v_entry BIGINT;
    v_notification BIGINT;
    v_candidate JSONB;
    v_candidate_xp INTEGER;
BEGIN
    IF p_recipient IS NULL THEN
        RAISE EXCEPTION 'a % award needs a recipient (xp_rules pays it to someone this call does not name)',
            p_action USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- The rule and, for a live award of a boostable action, the highest boost whose
    -- window holds the award's instant (the transaction's clock: a boost ending while
    -- the call runs applies to all of it or none), in one statement.
    SELECT r.xp, r.daily_limit, r.boostable, b.id, b.multiplier_hundredths
      INTO v_rule_xp, v_limit, v_boostable, v_boost, v_hundredths
      FROM xp_rules r
      LEFT JOIN LATERAL (
          SELECT b.id, b.multiplier_hundredths FROM xp_boosts b
           WHERE r.boostable AND p_caps
             AND b.ends_at > storyxp_now() AND b.starts_at <= storyxp_now()
             AND (b.actions = '{}' OR p_action = ANY (b.actions))
           ORDER BY b.multiplier_hundredths DESC, b.id
           LIMIT 1) b ON TRUE
     WHERE r.action = p_action;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no XP rule for %', p_action USING ERRCODE = 'foreign_key_violation';
    END IF;
    v_amount := coalesce(v_amount, v_rule_xp);
    IF v_amount IS NULL THEN
        RAISE EXCEPTION 'a % award needs an amount: the call gives none and xp_rules has none',
            p_action USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF v_limit IS NOT NULL AND p_caps AND p_subject IS NOT NULL THEN
        -- Capped: decide under the recipient's row lock (the lock the ledger trigger takes
        -- anyway), so concurrent awards count exactly.
        SELECT xp_local_date(u.timezone) INTO v_date FROM users u WHERE u.id = p_recipient
           FOR NO KEY UPDATE;
        IF EXISTS (SELECT 1 FROM xp_ledger l WHERE l.recipient_id = p_recipient
                      AND l.action = p_action AND l.subject = p_subject)
           OR EXISTS (SELECT 1 FROM xp_capped c WHERE c.recipient_id = p_recipient
                      AND c.action = p_action AND c.subject = p_subject) THEN
            RETURN;
        END IF;
        SELECT d.count INTO v_count FROM xp_daily_awards d
         WHERE d.user_id = p_recipient AND d.date = v_date AND d.action = p_action;
        IF coalesce(v_count, 0) >= v_limit THEN
            INSERT INTO xp_capped (recipient_id, action, subject) VALUES (p_recipient, p_action, p_subject);
            RETURN;
        END IF;
        INSERT INTO xp_daily_awards (user_id, date, action, count) VALUES (p_recipient, v_date, p_action, 1)
        ON CONFLICT (user_id, date, action) DO UPDATE SET count = xp_daily_awards.count + 1;
    END IF;
    v_base := v_amount;
    IF v_boost IS NOT NULL THEN
        -- round-half-up(base * multiplier), in integers.
        v_amount := (v_base * v_hundredths + 50) / 100;
    ELSE
        v_hundredths := 100;
    END IF;
    INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason, base_amount,
                           multiplier_hundredths, boost_id)
    VALUES (p_recipient, p_action, p_subject, v_amount, p_reason, v_base, v_hundredths, v_boost)
    ON CONFLICT (recipient_id, action, subject) DO NOTHING
    RETURNING xp_ledger.id INTO v_entry;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_entries := ARRAY[v_entry];
    -- The ledger trigger has locked and updated the user's row: awards to one user are
    -- serialised from here to commit, so the counts read below are exact.
    SELECT u.experience_points,
           EXISTS (SELECT 1 FROM live_award_subscribers s WHERE s.user_id = p_recipient)
      INTO v_total, v_watched
      FROM users u WHERE u.id = p_recipient;
    v_before := v_total - v_amount;
    v_gained := v_amount;

    FOR v_candidate IN SELECT value FROM jsonb_array_elements(p_achievements) LOOP
        IF v_candidate ? 'count' THEN
            SELECT c.count INTO v_count FROM user_action_counts c
             WHERE c.user_id = p_recipient AND c.action = v_candidate->>'action';
            CONTINUE WHEN coalesce(v_count, 0) < (v_candidate->>'count')::INTEGER;
        ELSIF v_candidate ? 'streak' THEN
            CONTINUE WHEN (SELECT u.streak_current FROM users u WHERE u.id = p_recipient)
                          < (v_candidate->>'streak')::INTEGER;
        ELSE
            CONTINUE WHEN xp_level(v_total) < (v_candidate->>'level')::INTEGER;
        END IF;
        CONTINUE WHEN EXISTS (SELECT 1 FROM user_achievements a
                               WHERE a.user_id = p_recipient AND a.achievement = v_candidate->>'key');
        IF v_candidate ? 'xp' THEN
            v_candidate_xp := (v_candidate->>'xp')::INTEGER;
        ELSE
            IF v_achievement_xp IS NULL THEN
                SELECT r.xp INTO STRICT v_achievement_xp FROM xp_rules r
                 WHERE r.action = 'ACHIEVEMENT_EARNED';
            END IF;
            v_candidate_xp := v_achievement_xp;
        END IF;
        INSERT INTO user_achievements (user_id, achievement) VALUES (p_recipient, v_candidate->>'key');
        INSERT INTO xp_ledger (recipient_id, action, subject, amount, reason)
        VALUES (p_recipient, 'ACHIEVEMENT_EARNED', v_candidate->>'key', v_candidate_xp,
                'Achievement unlocked: ' || (v_candidate->>'name'))
        RETURNING xp_ledger.id INTO v_entry;
        v_entries := v_entries || v_entry;
        v_total := v_total + v_candidate_xp;
        v_gained := v_gained + v_candidate_xp;
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
    IF v_watched THEN
        PERFORM pg_notify('storyxp_xp_awarded', json_build_object(
            'user_id', p_recipient, 'action', p_action, 'xp_gained', v_gained,
            'total_xp', v_total, 'level', xp_level(v_total),
            'previous_level', xp_level(v_before), 'unlocked', v_unlocked,
            'awarded_at', storyxp_now(), 'entries', v_entries)::TEXT);
    END IF;

    RETURN QUERY SELECT v_gained, v_total, xp_level(v_total), xp_level(v_before),
                        v_unlocked, storyxp_now(), v_notification, v_entries;
END $$;

DROP TABLE admin_actions;
DROP TABLE xp_reward_changes;
UPDATE xp_rules SET tuned_xp = NULL WHERE tuned_xp = 0;
ALTER TABLE xp_rules DROP CONSTRAINT xp_rules_tuned_xp_range,
    ADD CONSTRAINT xp_rules_tuned_xp_positive CHECK (tuned_xp > 0);
