-- +goose Up
-- Events of signed encounters wait here, written in the signing's
-- transaction, until the relay publishes them (shared/outbox).
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
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE outbox;
