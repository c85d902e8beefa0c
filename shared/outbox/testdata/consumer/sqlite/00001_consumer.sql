-- +goose Up
CREATE TABLE processed_events (
  event_id VARCHAR(36) NOT NULL PRIMARY KEY,
  type VARCHAR(100) NOT NULL,
  processed_at TIMESTAMP NOT NULL
);
-- No key on event_id: a second effect of one event would show.
CREATE TABLE effects (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id VARCHAR(36) NOT NULL
);
-- +goose Down
DROP TABLE effects;
DROP TABLE processed_events;
