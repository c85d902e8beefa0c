-- +goose Up
-- Long enough for a second migrator to read the version before this one
-- commits.
CREATE TABLE slow ENGINE=InnoDB AS SELECT SLEEP(0.3) AS waited;
-- +goose Down
DROP TABLE slow;
