-- Sessions that end, and failed passwords counted per account.

-- A token carries the generation it was issued in; changing the password starts a new
-- one, and tokens of older generations are refused (auth::revocations).
ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0
    CONSTRAINT users_session_generation_not_negative CHECK (session_generation >= 0);
CREATE INDEX users_ended_sessions_idx ON users (id) WHERE session_generation > 0;

-- Tokens ended by logOut, by their SHA-256, kept until they would have expired anyway.
CREATE TABLE revoked_tokens (
    token_hash BYTEA PRIMARY KEY CONSTRAINT revoked_tokens_hash_length CHECK (length(token_hash) = 32),
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX revoked_tokens_expiry_idx ON revoked_tokens (expires_at);

-- One row per password check that was allowed to run and has not succeeded: the
-- account's key is `user:<id>` for a known login, `login:<lower(login)>` for an unknown
-- one, so both are limited alike and the answers do not tell them apart.
CREATE TABLE login_failures (
    id        BIGSERIAL PRIMARY KEY,
    account   TEXT NOT NULL CONSTRAINT login_failures_account_length CHECK (length(account) <= 300),
    failed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_failures_account_idx ON login_failures (account, failed_at);
CREATE INDEX login_failures_age_idx ON login_failures (failed_at);
