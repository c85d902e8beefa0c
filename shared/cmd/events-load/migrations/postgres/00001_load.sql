-- +goose Up
CREATE TABLE outbox (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id VARCHAR(36) NOT NULL UNIQUE,
  type VARCHAR(100) NOT NULL,
  subject VARCHAR(100) NOT NULL,
  envelope TEXT NOT NULL,
  created_at TIMESTAMPTZ(6) NOT NULL,
  published_at TIMESTAMPTZ(6) NULL,
  attempts INT NOT NULL DEFAULT 0
);
-- The relay scans only what waits: a partial index stays small.
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;
CREATE TABLE processed_events (
  event_id VARCHAR(36) NOT NULL PRIMARY KEY,
  type VARCHAR(100) NOT NULL,
  processed_at TIMESTAMPTZ(6) NOT NULL
);
CREATE TABLE effects (
  id VARCHAR(36) NOT NULL PRIMARY KEY
);
-- +goose Down
DROP TABLE effects;
DROP TABLE processed_events;
DROP TABLE outbox;
