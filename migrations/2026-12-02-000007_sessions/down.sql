DROP TABLE login_failures;
DROP TABLE revoked_tokens;
ALTER TABLE users DROP COLUMN session_generation;
