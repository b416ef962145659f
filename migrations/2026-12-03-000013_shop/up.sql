-- The XP shop (contract, "XP shop"): a spendable balance beside lifetime XP.
--   * users.xp_spent: everything the user ever spent. The balance is
--     experience_points - xp_spent; the CHECK keeps it from going negative whatever
--     runs at once, and experience_points and level never change by spending.
--   * user_items: frames and titles owned, each once (the primary key).
--   * users.frame / users.title: the equipped ones; a foreign key to user_items, so
--     only an owned item can be equipped.
--   * purchases: the history, one row per item bought, at its price then.
--   * buy_item: one purchase under the buyer's row lock, so concurrent buys of one user
--     take turns and each sees the balance the one before left. The catalog's numbers
--     (xp::shop) come in as parameters.

ALTER TABLE users
    ADD COLUMN xp_spent INTEGER NOT NULL DEFAULT 0
        CONSTRAINT users_xp_spent_not_negative CHECK (xp_spent >= 0),
    ADD CONSTRAINT users_balance_not_negative CHECK (xp_spent <= experience_points),
    ADD COLUMN frame TEXT,
    ADD COLUMN title TEXT;

CREATE TABLE user_items (
    user_id     BIGINT NOT NULL REFERENCES users (id),
    item        TEXT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL DEFAULT storyxp_now(),
    PRIMARY KEY (user_id, item)
);

ALTER TABLE users
    ADD CONSTRAINT users_frame_owned FOREIGN KEY (id, frame) REFERENCES user_items (user_id, item),
    ADD CONSTRAINT users_title_owned FOREIGN KEY (id, title) REFERENCES user_items (user_id, item);

CREATE TABLE purchases (
    id         BIGSERIAL PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    item       TEXT NOT NULL,
    price      INTEGER NOT NULL CONSTRAINT purchases_price_positive CHECK (price > 0),
    created_at TIMESTAMPTZ NOT NULL DEFAULT storyxp_now()
);
CREATE INDEX purchases_user_idx ON purchases (user_id, id DESC);

-- Buys p_item for p_user. outcome: BOUGHT, or why not: LEVEL_TOO_LOW, LIMIT_REACHED
-- (p_freeze: the item is a streak freeze and the user holds STREAK_FREEZES_MAX),
-- ALREADY_OWNED (p_owned_once: a frame or title already owned), INSUFFICIENT_XP.
-- balance: the balance after (or unchanged). Nothing is written unless BOUGHT.
CREATE FUNCTION buy_item(
    p_user BIGINT, p_item TEXT, p_price INTEGER, p_min_level INTEGER, p_freeze BOOLEAN,
    p_owned_once BOOLEAN
) RETURNS TABLE (outcome TEXT, purchase_id BIGINT, balance INTEGER)
LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$
DECLARE
    v_balance INTEGER;
    v_level INTEGER;
    v_freezes INTEGER;
    v_max INTEGER;
    v_purchase BIGINT;
BEGIN
    SELECT u.experience_points - u.xp_spent, u.level, u.streak_freezes
      INTO v_balance, v_level, v_freezes
      FROM users u WHERE u.id = p_user FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_level < p_min_level THEN
        RETURN QUERY SELECT 'LEVEL_TOO_LOW', NULL::BIGINT, v_balance;
        RETURN;
    END IF;
    IF p_freeze THEN
        SELECT s.value INTO STRICT v_max FROM xp_settings s WHERE s.name = 'STREAK_FREEZES_MAX';
        IF v_freezes >= v_max THEN
            RETURN QUERY SELECT 'LIMIT_REACHED', NULL::BIGINT, v_balance;
            RETURN;
        END IF;
    END IF;
    IF p_owned_once AND EXISTS (SELECT 1 FROM user_items i
                                 WHERE i.user_id = p_user AND i.item = p_item) THEN
        RETURN QUERY SELECT 'ALREADY_OWNED', NULL::BIGINT, v_balance;
        RETURN;
    END IF;
    IF v_balance < p_price THEN
        RETURN QUERY SELECT 'INSUFFICIENT_XP', NULL::BIGINT, v_balance;
        RETURN;
    END IF;
    UPDATE users SET xp_spent = xp_spent + p_price,
                     streak_freezes = streak_freezes + CASE WHEN p_freeze THEN 1 ELSE 0 END
     WHERE id = p_user;
    IF p_owned_once THEN
        INSERT INTO user_items (user_id, item) VALUES (p_user, p_item);
    END IF;
    INSERT INTO purchases (user_id, item, price) VALUES (p_user, p_item, p_price)
    RETURNING id INTO v_purchase;
    RETURN QUERY SELECT 'BOUGHT', v_purchase, v_balance - p_price;
END $$;
