-- +goose Up
CREATE TABLE links (
  id TEXT PRIMARY KEY,
  item_id TEXT NOT NULL REFERENCES items(id) ON DELETE RESTRICT
);
-- +goose Down
DROP TABLE links;
