-- +goose Up
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
