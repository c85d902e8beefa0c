-- +goose Up
-- The revocation feed: id is the feed index.
CREATE TABLE IF NOT EXISTS revocations (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  session_id CHAR(36) CHARACTER SET ascii NULL,
  user_id CHAR(36) CHARACTER SET ascii NULL,
  not_before DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  KEY revocations_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Writers of revocations lock this row before they insert, until they
-- commit: ids are then committed in increasing order, so a follower that
-- has read id n can never see an id below n appear later.
CREATE TABLE IF NOT EXISTS revocation_writer (
  id TINYINT NOT NULL PRIMARY KEY,
  writes BIGINT UNSIGNED NOT NULL
) ENGINE=InnoDB;
INSERT INTO revocation_writer (id, writes) VALUES (1, 0) ON DUPLICATE KEY UPDATE id = id;

-- +goose Down
DROP TABLE revocation_writer;
DROP TABLE revocations;
