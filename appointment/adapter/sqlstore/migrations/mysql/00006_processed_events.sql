-- +goose Up
-- The inbox of shared/inbox: one row per consumed event applied, claimed in
-- the transaction of its effect so that a redelivery changes nothing.
-- Numbered 00006 on every dialect, after PostgreSQL's own 00005, so that one
-- version names one change everywhere.
CREATE TABLE IF NOT EXISTS processed_events (
  event_id     VARCHAR(36)  NOT NULL PRIMARY KEY,
  type         VARCHAR(100) NOT NULL,
  processed_at DATETIME(6)  NOT NULL
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE processed_events;
