-- +goose Up
-- test_sleep is registered by the tests: long enough for a second migrator
-- to read the version before this one commits.
CREATE TABLE slow AS SELECT test_sleep(300) AS waited;
-- +goose Down
DROP TABLE slow;
