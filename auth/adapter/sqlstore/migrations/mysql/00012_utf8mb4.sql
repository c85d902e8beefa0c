-- +goose Up
-- The outbox and the revocation writer's lock row named no character set
-- and took the database's default: latin1 on many MariaDB installations,
-- where an event naming a user outside Latin-1 was refused (1366). They
-- now hold utf8mb4 under the collation of the other tables, whatever the
-- database's default.
ALTER TABLE outbox CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE revocation_writer DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- +goose Down
-- The database's former default is not known here: the tables stay utf8mb4,
-- which holds every text they held.
SELECT 1;
