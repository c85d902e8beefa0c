-- +goose Up
CREATE TABLE patients (
    id                 TEXT    NOT NULL PRIMARY KEY,
    user_id            TEXT    UNIQUE,
    first_name         TEXT    NOT NULL,
    last_name          TEXT    NOT NULL,
    -- Lower-case copies for prefix search; NOCASE lets LIKE 'x%' use the indexes.
    first_name_norm    TEXT    NOT NULL COLLATE NOCASE,
    last_name_norm     TEXT    NOT NULL COLLATE NOCASE,
    date_of_birth      TEXT    NOT NULL,
    sex                TEXT    NOT NULL,
    email              TEXT    NOT NULL DEFAULT '',
    email_norm         TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
    phone              TEXT    NOT NULL DEFAULT '',
    address_line1      TEXT    NOT NULL DEFAULT '',
    address_line2      TEXT    NOT NULL DEFAULT '',
    address_city       TEXT    NOT NULL DEFAULT '',
    address_state      TEXT    NOT NULL DEFAULT '',
    address_postal     TEXT    NOT NULL DEFAULT '',
    address_country    TEXT    NOT NULL DEFAULT '',
    ec_name            TEXT    NOT NULL DEFAULT '',
    ec_relationship    TEXT    NOT NULL DEFAULT '',
    ec_phone           TEXT    NOT NULL DEFAULT '',
    preferred_language TEXT    NOT NULL DEFAULT '',
    blood_type         TEXT    NOT NULL DEFAULT '',
    active             INTEGER NOT NULL,
    version            INTEGER NOT NULL,
    created_at         DATETIME NOT NULL,
    updated_at         DATETIME NOT NULL
);
CREATE INDEX patients_last_first ON patients (last_name_norm, first_name_norm, id);
CREATE INDEX patients_first_last ON patients (first_name_norm, last_name_norm, id);
CREATE INDEX patients_dob ON patients (date_of_birth, last_name_norm, first_name_norm, id);
CREATE INDEX patients_email ON patients (email_norm);

CREATE TABLE history_entries (
    id          TEXT     NOT NULL PRIMARY KEY,
    patient_id  TEXT     NOT NULL REFERENCES patients (id),
    type        TEXT     NOT NULL,
    description TEXT     NOT NULL,
    code        TEXT     NOT NULL DEFAULT '',
    code_system TEXT     NOT NULL DEFAULT '',
    status      TEXT     NOT NULL,
    onset_date  TEXT     NOT NULL DEFAULT '',
    end_date    TEXT     NOT NULL DEFAULT '',
    severity    TEXT     NOT NULL DEFAULT '',
    notes       TEXT     NOT NULL DEFAULT '',
    recorded_by TEXT     NOT NULL,
    recorded_at DATETIME NOT NULL,
    amended_by  TEXT     NOT NULL DEFAULT '',
    amended_at  DATETIME,
    version     INTEGER  NOT NULL
);
CREATE INDEX history_entries_patient ON history_entries (patient_id, id);

-- Every revision of every entry, the first included; rows are only added.
CREATE TABLE history_revisions (
    entry_id    TEXT     NOT NULL REFERENCES history_entries (id),
    version     INTEGER  NOT NULL,
    patient_id  TEXT     NOT NULL,
    type        TEXT     NOT NULL,
    description TEXT     NOT NULL,
    code        TEXT     NOT NULL DEFAULT '',
    code_system TEXT     NOT NULL DEFAULT '',
    status      TEXT     NOT NULL,
    onset_date  TEXT     NOT NULL DEFAULT '',
    end_date    TEXT     NOT NULL DEFAULT '',
    severity    TEXT     NOT NULL DEFAULT '',
    notes       TEXT     NOT NULL DEFAULT '',
    recorded_by TEXT     NOT NULL,
    recorded_at DATETIME NOT NULL,
    amended_by  TEXT     NOT NULL DEFAULT '',
    amended_at  DATETIME,
    PRIMARY KEY (entry_id, version)
);

CREATE TABLE audit_events (
    id          TEXT     NOT NULL PRIMARY KEY,
    occurred_at DATETIME NOT NULL,
    user_id     TEXT     NOT NULL,
    role        TEXT     NOT NULL,
    action      TEXT     NOT NULL,
    resource    TEXT     NOT NULL,
    patient_id  TEXT     NOT NULL DEFAULT '',
    resource_id TEXT     NOT NULL DEFAULT '',
    outcome     TEXT     NOT NULL,
    request_id  TEXT     NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_patient ON audit_events (patient_id, id);

-- The audit trail and the revisions are append-only, whatever the caller.
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER history_revisions_no_update BEFORE UPDATE ON history_revisions
BEGIN SELECT RAISE(ABORT, 'history revisions are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER history_revisions_no_delete BEFORE DELETE ON history_revisions
BEGIN SELECT RAISE(ABORT, 'history revisions are append-only'); END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
DROP TABLE history_revisions;
DROP TABLE history_entries;
DROP TABLE patients;
