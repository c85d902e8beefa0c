-- +goose Up
CREATE TABLE IF NOT EXISTS patients (
    id                 CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id            CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NULL,
    first_name         VARCHAR(100) NOT NULL,
    last_name          VARCHAR(100) NOT NULL,
    -- Lower-case copies for prefix search with LIKE 'x%' on the indexes below.
    first_name_norm    VARCHAR(100) NOT NULL,
    last_name_norm     VARCHAR(100) NOT NULL,
    date_of_birth      CHAR(10)     CHARACTER SET ascii NOT NULL,
    sex                VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    email              VARCHAR(254) NOT NULL DEFAULT '',
    email_norm         VARCHAR(254) NOT NULL DEFAULT '',
    phone              VARCHAR(16)  CHARACTER SET ascii NOT NULL DEFAULT '',
    address_line1      VARCHAR(200) NOT NULL DEFAULT '',
    address_line2      VARCHAR(200) NOT NULL DEFAULT '',
    address_city       VARCHAR(100) NOT NULL DEFAULT '',
    address_state      VARCHAR(100) NOT NULL DEFAULT '',
    address_postal     VARCHAR(20)  NOT NULL DEFAULT '',
    address_country    CHAR(2)      CHARACTER SET ascii NOT NULL DEFAULT '',
    ec_name            VARCHAR(200) NOT NULL DEFAULT '',
    ec_relationship    VARCHAR(50)  NOT NULL DEFAULT '',
    ec_phone           VARCHAR(16)  CHARACTER SET ascii NOT NULL DEFAULT '',
    preferred_language VARCHAR(35)  CHARACTER SET ascii NOT NULL DEFAULT '',
    blood_type         VARCHAR(3)   CHARACTER SET ascii NOT NULL DEFAULT '',
    active             BOOLEAN      NOT NULL,
    version            BIGINT       NOT NULL,
    created_at         DATETIME(6)  NOT NULL,
    updated_at         DATETIME(6)  NOT NULL,
    UNIQUE KEY patients_user (user_id),
    KEY patients_last_first (last_name_norm, first_name_norm, id),
    KEY patients_first_last (first_name_norm, last_name_norm, id),
    KEY patients_dob (date_of_birth, last_name_norm, first_name_norm, id),
    KEY patients_email (email_norm)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS history_entries (
    id          CHAR(36)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    patient_id  CHAR(36)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    type        VARCHAR(20)   CHARACTER SET ascii NOT NULL,
    description VARCHAR(500)  NOT NULL,
    code        VARCHAR(64)   NOT NULL DEFAULT '',
    code_system VARCHAR(200)  NOT NULL DEFAULT '',
    status      VARCHAR(20)   CHARACTER SET ascii NOT NULL,
    onset_date  CHAR(10)      CHARACTER SET ascii NOT NULL DEFAULT '',
    end_date    CHAR(10)      CHARACTER SET ascii NOT NULL DEFAULT '',
    severity    VARCHAR(10)   CHARACTER SET ascii NOT NULL DEFAULT '',
    notes       TEXT          NOT NULL,
    recorded_by VARCHAR(64)   CHARACTER SET ascii NOT NULL,
    recorded_at DATETIME(6)   NOT NULL,
    amended_by  VARCHAR(64)   CHARACTER SET ascii NOT NULL DEFAULT '',
    amended_at  DATETIME(6)   NULL,
    version     BIGINT        NOT NULL,
    KEY history_entries_patient (patient_id, id),
    CONSTRAINT history_entries_patient_fk FOREIGN KEY (patient_id) REFERENCES patients (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Every revision of every entry, the first included; rows are only added.
CREATE TABLE IF NOT EXISTS history_revisions (
    entry_id    CHAR(36)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    version     BIGINT        NOT NULL,
    patient_id  CHAR(36)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    type        VARCHAR(20)   CHARACTER SET ascii NOT NULL,
    description VARCHAR(500)  NOT NULL,
    code        VARCHAR(64)   NOT NULL DEFAULT '',
    code_system VARCHAR(200)  NOT NULL DEFAULT '',
    status      VARCHAR(20)   CHARACTER SET ascii NOT NULL,
    onset_date  CHAR(10)      CHARACTER SET ascii NOT NULL DEFAULT '',
    end_date    CHAR(10)      CHARACTER SET ascii NOT NULL DEFAULT '',
    severity    VARCHAR(10)   CHARACTER SET ascii NOT NULL DEFAULT '',
    notes       TEXT          NOT NULL,
    recorded_by VARCHAR(64)   CHARACTER SET ascii NOT NULL,
    recorded_at DATETIME(6)   NOT NULL,
    amended_by  VARCHAR(64)   CHARACTER SET ascii NOT NULL DEFAULT '',
    amended_at  DATETIME(6)   NULL,
    PRIMARY KEY (entry_id, version),
    CONSTRAINT history_revisions_entry_fk FOREIGN KEY (entry_id) REFERENCES history_entries (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS audit_events (
    id          CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    occurred_at DATETIME(6)  NOT NULL,
    user_id     VARCHAR(64)  CHARACTER SET ascii NOT NULL,
    role        VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    action      VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    resource    VARCHAR(32)  CHARACTER SET ascii NOT NULL,
    patient_id  CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    resource_id CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    outcome     VARCHAR(8)   CHARACTER SET ascii NOT NULL,
    request_id  VARCHAR(128) CHARACTER SET ascii NOT NULL DEFAULT '',
    KEY audit_events_patient (patient_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The audit trail and the revisions are append-only, whatever the caller.
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit events are append-only';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit events are append-only';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS history_revisions_no_update BEFORE UPDATE ON history_revisions FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'history revisions are append-only';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS history_revisions_no_delete BEFORE DELETE ON history_revisions FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'history revisions are append-only';
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
DROP TABLE history_revisions;
DROP TABLE history_entries;
DROP TABLE patients;
