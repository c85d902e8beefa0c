-- +goose Up
-- When the sign-in session (refresh family) began, carried to each
-- successor: no refresh goes past it by more than -session-max-age. The
-- sessions open before this migration count from it.
ALTER TABLE refresh_tokens ADD COLUMN session_started_at timestamptz;
UPDATE refresh_tokens SET session_started_at = now();
ALTER TABLE refresh_tokens ALTER COLUMN session_started_at SET NOT NULL;

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN session_started_at;
