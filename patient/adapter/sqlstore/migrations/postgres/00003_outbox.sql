-- +goose Up
-- Events of a record's status changes (patient.deactivated,
-- patient.reactivated) wait here, written in the change's transaction,
-- until the relay publishes them (shared/outbox).
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

-- +goose Down
DROP TABLE outbox;
