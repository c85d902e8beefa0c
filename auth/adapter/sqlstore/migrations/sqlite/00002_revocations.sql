-- +goose Up
-- The revocation feed: id is the feed index. AUTOINCREMENT never reuses an
-- id, even after the newest rows are deleted, so followers never miss one.
CREATE TABLE revocations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id TEXT,
  user_id TEXT,
  not_before DATETIME NOT NULL,
  expires_at DATETIME NOT NULL
);
CREATE INDEX revocations_expires ON revocations(expires_at);

-- +goose Down
DROP TABLE revocations;
