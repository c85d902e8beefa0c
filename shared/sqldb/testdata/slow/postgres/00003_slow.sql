-- +goose Up
-- Long enough for a second migrator to read the version before this one
-- commits.
CREATE TABLE slow AS SELECT pg_sleep(0.3) IS NULL AS waited;
-- +goose Down
DROP TABLE slow;
