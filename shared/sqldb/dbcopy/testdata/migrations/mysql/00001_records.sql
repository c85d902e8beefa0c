-- +goose Up
CREATE TABLE owners (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  active BOOLEAN NOT NULL,
  created_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE records (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  owner_id BIGINT NOT NULL,
  note TEXT NULL,
  flag TINYINT(1) NULL,
  payload BLOB NULL,
  attrs JSON NULL,
  recorded_at DATETIME(6) NULL,
  day DATE NULL,
  amount DECIMAL(10,2) NULL,
  score DOUBLE NULL,
  CONSTRAINT records_owner FOREIGN KEY (owner_id) REFERENCES owners (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A row the migration itself inserts.
CREATE TABLE counters (
  id SMALLINT NOT NULL PRIMARY KEY,
  n BIGINT NOT NULL
) ENGINE=InnoDB;
INSERT INTO counters (id, n) VALUES (1, 0);
-- +goose Down
DROP TABLE counters;
DROP TABLE records;
DROP TABLE owners;
