-- +goose Up
-- The inbox of shared/inbox: one row per consumed event applied, claimed in
-- the transaction of its effect so that a redelivery changes nothing.
CREATE TABLE processed_events (
  event_id     VARCHAR(36)    NOT NULL PRIMARY KEY,
  type         VARCHAR(100)   NOT NULL,
  processed_at TIMESTAMPTZ(6) NOT NULL
);

-- +goose Down
DROP TABLE processed_events;
