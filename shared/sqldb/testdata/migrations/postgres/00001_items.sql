-- +goose Up
CREATE TABLE items (
  id VARCHAR(36) PRIMARY KEY,
  name VARCHAR(200) NOT NULL UNIQUE,
  created_at TIMESTAMPTZ(6) NOT NULL
);
-- +goose Down
DROP TABLE items;
