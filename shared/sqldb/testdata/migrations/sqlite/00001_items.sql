-- +goose Up
CREATE TABLE items (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at DATETIME NOT NULL
);
-- +goose Down
DROP TABLE items;
