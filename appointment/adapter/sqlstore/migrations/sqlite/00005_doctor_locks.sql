-- +goose Up
-- Nothing to make here: SQLite's write transactions begin IMMEDIATE and run
-- one at a time, so this database needs no doctor lock rows (PostgreSQL's
-- 00005 makes its table). The version is kept on every dialect so that one
-- version names one schema everywhere (medisync-dbcopy compares them).
SELECT 1;

-- +goose Down
SELECT 1;
