-- +goose Up
-- The outbox named no character set and took the database's default
-- (latin1 on many MariaDB installations). Its envelopes carry names and
-- reasons as written; it now holds utf8mb4 under the collation of the
-- other tables, whatever the database's default.
ALTER TABLE outbox CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- +goose Down
-- The database's former default is not known here: the table stays
-- utf8mb4, which holds every text it held.
SELECT 1;
