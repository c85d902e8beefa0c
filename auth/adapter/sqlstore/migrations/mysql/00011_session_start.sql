-- +goose Up
-- When the sign-in session (refresh family) began, carried to each
-- successor: no refresh goes past it by more than -session-max-age. The
-- sessions open before this migration count from it. Nullable, so that an
-- instance of the previous release, still running during a rolling
-- upgrade, stores its tokens without it; such a token's session is read
-- as starting at its issue.
ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS session_started_at DATETIME(6) NULL;
UPDATE refresh_tokens SET session_started_at = UTC_TIMESTAMP(6) WHERE session_started_at IS NULL;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN session_started_at;
