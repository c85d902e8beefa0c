-- +goose Up
CREATE TABLE encounters (
    id             TEXT         NOT NULL PRIMARY KEY,
    patient_id     TEXT         NOT NULL,
    doctor_id      TEXT         NOT NULL,
    status         TEXT         NOT NULL,
    appointment_id TEXT         NOT NULL DEFAULT '',
    subjective     TEXT         NOT NULL,
    objective      TEXT         NOT NULL,
    assessment     TEXT         NOT NULL,
    plan           TEXT         NOT NULL,
    -- Diagnoses and prescriptions as JSON arrays: they are read and written
    -- with their note, never queried on their own.
    diagnoses      TEXT         NOT NULL,
    prescriptions  TEXT         NOT NULL,
    created_at     DATETIME     NOT NULL,
    updated_at     DATETIME     NOT NULL,
    signed_at      DATETIME     NULL,
    error_reason   TEXT          NOT NULL DEFAULT '',
    version        INTEGER       NOT NULL
);
CREATE INDEX encounters_patient ON encounters (patient_id, id);
CREATE INDEX encounters_doctor ON encounters (patient_id, doctor_id);

-- Every version of every encounter, the first included; rows are only added.
CREATE TABLE encounter_revisions (
    encounter_id   TEXT         NOT NULL,
    version        INTEGER       NOT NULL,
    patient_id     TEXT         NOT NULL,
    doctor_id      TEXT         NOT NULL,
    status         TEXT         NOT NULL,
    appointment_id TEXT         NOT NULL DEFAULT '',
    subjective     TEXT         NOT NULL,
    objective      TEXT         NOT NULL,
    assessment     TEXT         NOT NULL,
    plan           TEXT         NOT NULL,
    diagnoses      TEXT         NOT NULL,
    prescriptions  TEXT         NOT NULL,
    created_at     DATETIME     NOT NULL,
    updated_at     DATETIME     NOT NULL,
    signed_at      DATETIME     NULL,
    error_reason   TEXT          NOT NULL DEFAULT '',
    PRIMARY KEY (encounter_id, version),
    FOREIGN KEY (encounter_id) REFERENCES encounters (id)
);

CREATE TABLE encounter_addenda (
    id           TEXT        NOT NULL PRIMARY KEY,
    encounter_id TEXT        NOT NULL,
    patient_id   TEXT        NOT NULL,
    author_id    TEXT        NOT NULL,
    text         TEXT        NOT NULL,
    created_at   DATETIME    NOT NULL,
    FOREIGN KEY (encounter_id) REFERENCES encounters (id)
);
CREATE INDEX encounter_addenda_encounter ON encounter_addenda (encounter_id, id);

CREATE TABLE documents (
    id           TEXT         NOT NULL PRIMARY KEY,
    patient_id   TEXT         NOT NULL,
    status       TEXT         NOT NULL,
    type         TEXT         NOT NULL,
    category     TEXT         NOT NULL DEFAULT '',
    title        TEXT         NOT NULL,
    content_type TEXT         NOT NULL,
    size         INTEGER       NOT NULL,
    sha256       TEXT         NOT NULL,
    author_id    TEXT         NOT NULL,
    doc_date     DATETIME     NOT NULL,
    encounter_id TEXT         NOT NULL DEFAULT '',
    replaces     TEXT         NOT NULL DEFAULT '',
    blob_key     TEXT         NOT NULL,
    error_reason TEXT          NOT NULL DEFAULT '',
    version      INTEGER       NOT NULL
);
CREATE UNIQUE INDEX documents_blob ON documents (blob_key);
CREATE INDEX documents_patient ON documents (patient_id, id);

CREATE TABLE audit_events (
    id          TEXT          NOT NULL PRIMARY KEY,
    occurred_at DATETIME      NOT NULL,
    user_id     TEXT          NOT NULL,
    role        TEXT          NOT NULL,
    action      TEXT          NOT NULL,
    resource    TEXT          NOT NULL,
    patient_id  TEXT          NOT NULL DEFAULT '',
    resource_id TEXT          NOT NULL DEFAULT '',
    outcome     TEXT          NOT NULL,
    request_id  TEXT          NOT NULL DEFAULT '',
    reason      TEXT          NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_patient ON audit_events (patient_id, id);


-- The audit trail, the revisions and the addenda are append-only, whatever
-- the caller; encounters and documents are never deleted, and a signed note
-- changes only to entered-in-error.
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER encounter_revisions_no_update BEFORE UPDATE ON encounter_revisions
BEGIN SELECT RAISE(ABORT, 'encounter revisions are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER encounter_revisions_no_delete BEFORE DELETE ON encounter_revisions
BEGIN SELECT RAISE(ABORT, 'encounter revisions are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER encounter_addenda_no_update BEFORE UPDATE ON encounter_addenda
BEGIN SELECT RAISE(ABORT, 'addenda are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER encounter_addenda_no_delete BEFORE DELETE ON encounter_addenda
BEGIN SELECT RAISE(ABORT, 'addenda are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER encounters_no_delete BEFORE DELETE ON encounters
BEGIN SELECT RAISE(ABORT, 'encounters are never deleted'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents
BEGIN SELECT RAISE(ABORT, 'documents are never deleted'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER encounters_signed_immutable BEFORE UPDATE ON encounters
WHEN OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
    OR NEW.subjective <> OLD.subjective OR NEW.objective <> OLD.objective OR NEW.assessment <> OLD.assessment
    OR NEW.plan <> OLD.plan OR NEW.diagnoses <> OLD.diagnoses OR NEW.prescriptions <> OLD.prescriptions))
BEGIN SELECT RAISE(ABORT, 'a signed note is immutable'); END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
DROP TABLE documents;
DROP TABLE encounter_addenda;
DROP TABLE encounter_revisions;
DROP TABLE encounters;
