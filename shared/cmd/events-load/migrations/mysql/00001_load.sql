-- +goose Up
CREATE TABLE outbox (
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
CREATE TABLE processed_events (
  event_id VARCHAR(36) NOT NULL PRIMARY KEY,
  type VARCHAR(100) NOT NULL,
  processed_at DATETIME(6) NOT NULL
);
CREATE TABLE effects (
  id VARCHAR(36) NOT NULL PRIMARY KEY
);
-- +goose Down
DROP TABLE effects;
DROP TABLE processed_events;
DROP TABLE outbox;
