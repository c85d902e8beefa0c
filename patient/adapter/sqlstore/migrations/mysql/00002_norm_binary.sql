-- +goose Up
-- The lower-cased copies compare code point by code point, as they do on
-- PostgreSQL ("C") and SQLite: under the table's utf8mb4_unicode_ci,
-- accents did not count, so an exact email found another mailbox
-- ("adá@..." for "ada@...") and "jose" found "José". Case is already
-- folded by the service. The indexes on these columns are rebuilt with them.
ALTER TABLE patients
    MODIFY first_name_norm VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    MODIFY last_name_norm  VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    MODIFY email_norm      VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE patients
    MODIFY first_name_norm VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    MODIFY last_name_norm  VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    MODIFY email_norm      VARCHAR(254) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL DEFAULT '';
