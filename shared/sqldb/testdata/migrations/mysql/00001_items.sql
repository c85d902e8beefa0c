-- +goose Up
CREATE TABLE items (
  id CHAR(36) PRIMARY KEY,
  name VARCHAR(200) NOT NULL UNIQUE,
  created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- +goose Down
DROP TABLE items;
