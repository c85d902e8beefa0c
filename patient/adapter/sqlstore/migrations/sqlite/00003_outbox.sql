-- +goose Up
-- Events of a record's status changes (patient.deactivated,
-- patient.reactivated) wait here, written in the change's transaction,
-- until the relay publishes them (shared/outbox).
CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id VARCHAR(36) NOT NULL UNIQUE,
  type VARCHAR(100) NOT NULL,
  subject VARCHAR(100) NOT NULL,
  envelope TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  published_at TIMESTAMP NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (published_at, seq);

-- +goose Down
DROP TABLE outbox;
