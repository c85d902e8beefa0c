-- +goose Up
CREATE TABLE audit (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  record_id CHAR(36) CHARACTER SET ascii NOT NULL,
  action VARCHAR(16) NOT NULL,
  at DATETIME(6) NOT NULL,
  CONSTRAINT audit_record FOREIGN KEY (record_id) REFERENCES records (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
-- +goose Down
DROP TABLE audit;
