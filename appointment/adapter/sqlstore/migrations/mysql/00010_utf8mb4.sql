-- +goose Up
-- These tables named no character set and took the database's default:
-- latin1 on many MariaDB installations, where a doctor's name or a reason
-- outside Latin-1 was refused (1366). They now hold utf8mb4 under the
-- collation of the other services' tables, whatever the database's
-- default. CONVERT TO changes every text column, so it is used only on
-- tables with no column of a character set of its own; idempotency_keys
-- keeps its byte-compared key, and audit_events named its set already.
ALTER TABLE appointments CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE doctor_locks CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE patient_locks CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE waitlist CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE outbox CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE processed_events CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE patient_status CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
ALTER TABLE idempotency_keys
    DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci,
    MODIFY user_id        VARCHAR(36) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    MODIFY request_hash   VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    MODIFY appointment_id CHAR(36)    CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL;

-- +goose Down
-- The database's former default is not known here: the tables stay utf8mb4,
-- which holds every text they held.
SELECT 1;
