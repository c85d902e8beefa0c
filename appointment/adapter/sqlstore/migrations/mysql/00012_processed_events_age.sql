-- +goose Up
-- Claims older than shared/inbox's retention are deleted hourly, oldest
-- first, by their age.
CREATE INDEX IF NOT EXISTS processed_events_processed_at ON processed_events (processed_at);

-- +goose Down
DROP INDEX processed_events_processed_at ON processed_events;
