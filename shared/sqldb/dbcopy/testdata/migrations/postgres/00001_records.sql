-- +goose Up
CREATE TABLE owners (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name VARCHAR(200) NOT NULL,
  active BOOLEAN NOT NULL,
  created_at TIMESTAMPTZ(6) NOT NULL
);

CREATE TABLE records (
  id VARCHAR(36) PRIMARY KEY,
  owner_id BIGINT NOT NULL REFERENCES owners (id),
  note TEXT NULL,
  flag BOOLEAN NULL,
  payload BYTEA NULL,
  attrs JSONB NULL,
  recorded_at TIMESTAMPTZ(6) NULL,
  day DATE NULL,
  amount NUMERIC(10,2) NULL,
  score DOUBLE PRECISION NULL
);

-- A row the migration itself inserts.
CREATE TABLE counters (
  id SMALLINT PRIMARY KEY,
  n BIGINT NOT NULL
);
INSERT INTO counters (id, n) VALUES (1, 0);
-- +goose Down
DROP TABLE counters;
DROP TABLE records;
DROP TABLE owners;
