-- +goose Up
-- Events of a record's status changes (patient.deactivated,
-- patient.reactivated) wait here, written in the change's transaction,
-- until the relay publishes them (shared/outbox).
CREATE TABLE IF NOT EXISTS outbox (
  seq BIGINT AUTO_INCREMENT PRIMARY KEY,
  event_id VARCHAR(36) NOT NULL UNIQUE,
  type VARCHAR(100) NOT NULL,
  subject VARCHAR(100) NOT NULL,
  envelope MEDIUMTEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  published_at DATETIME(6) NULL,
  attempts INT NOT NULL DEFAULT 0,
  KEY outbox_pending (published_at, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE outbox;
