-- +goose Up
CREATE TABLE audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id TEXT NOT NULL REFERENCES records (id),
  action TEXT NOT NULL,
  at DATETIME NOT NULL
);
-- +goose Down
DROP TABLE audit;
