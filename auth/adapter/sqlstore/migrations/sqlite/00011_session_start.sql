-- +goose Up
-- When the sign-in session (refresh family) began, carried to each
-- successor: no refresh goes past it by more than -session-max-age. The
-- sessions open before this migration count from it. SQLite cannot add a
-- NOT NULL column without a constant default; every row is written with
-- one.
ALTER TABLE refresh_tokens ADD COLUMN session_started_at DATETIME;
UPDATE refresh_tokens SET session_started_at = strftime('%Y-%m-%d %H:%M:%f+00:00', 'now');

-- +goose Down
ALTER TABLE refresh_tokens DROP COLUMN session_started_at;
