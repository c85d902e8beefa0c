-- +goose Up
CREATE TABLE owners (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  active BOOLEAN NOT NULL,
  created_at DATETIME NOT NULL
);

CREATE TABLE records (
  id TEXT PRIMARY KEY,
  owner_id INTEGER NOT NULL REFERENCES owners (id),
  note TEXT NULL,
  flag BOOLEAN NULL,
  payload BLOB NULL,
  attrs TEXT NULL,
  recorded_at DATETIME NULL,
  day DATE NULL,
  amount TEXT NULL,
  score REAL NULL
);

-- A row the migration itself inserts.
CREATE TABLE counters (
  id INTEGER PRIMARY KEY,
  n INTEGER NOT NULL
);
INSERT INTO counters (id, n) VALUES (1, 0);
-- +goose Down
DROP TABLE counters;
DROP TABLE records;
DROP TABLE owners;
