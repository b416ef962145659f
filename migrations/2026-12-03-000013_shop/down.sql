DROP FUNCTION buy_item(BIGINT, TEXT, INTEGER, INTEGER, BOOLEAN, BOOLEAN);
DROP TABLE purchases;
ALTER TABLE users DROP CONSTRAINT users_frame_owned, DROP CONSTRAINT users_title_owned;
DROP TABLE user_items;
ALTER TABLE users DROP CONSTRAINT users_balance_not_negative,
    DROP COLUMN xp_spent, DROP COLUMN frame, DROP COLUMN title;
