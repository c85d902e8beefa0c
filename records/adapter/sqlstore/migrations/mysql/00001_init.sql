-- +goose Up
CREATE TABLE IF NOT EXISTS encounters (
    id             CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    patient_id     CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    doctor_id      VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status         VARCHAR(20)  CHARACTER SET ascii NOT NULL,
    appointment_id CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    subjective     MEDIUMTEXT   NOT NULL,
    objective      MEDIUMTEXT   NOT NULL,
    assessment     MEDIUMTEXT   NOT NULL,
    plan           MEDIUMTEXT   NOT NULL,
    -- Diagnoses and prescriptions as JSON arrays: they are read and written
    -- with their note, never queried on their own.
    diagnoses      MEDIUMTEXT   NOT NULL,
    prescriptions  MEDIUMTEXT   NOT NULL,
    created_at     DATETIME(6)  NOT NULL,
    updated_at     DATETIME(6)  NOT NULL,
    signed_at      DATETIME(6)  NULL,
    error_reason   VARCHAR(2000) NOT NULL DEFAULT '',
    version        BIGINT       NOT NULL,
    KEY encounters_patient (patient_id, id),
    KEY encounters_doctor (patient_id, doctor_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Every version of every encounter, the first included; rows are only added.
CREATE TABLE IF NOT EXISTS encounter_revisions (
    encounter_id   CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    version        BIGINT       NOT NULL,
    patient_id     CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    doctor_id      VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status         VARCHAR(20)  CHARACTER SET ascii NOT NULL,
    appointment_id CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    subjective     MEDIUMTEXT   NOT NULL,
    objective      MEDIUMTEXT   NOT NULL,
    assessment     MEDIUMTEXT   NOT NULL,
    plan           MEDIUMTEXT   NOT NULL,
    diagnoses      MEDIUMTEXT   NOT NULL,
    prescriptions  MEDIUMTEXT   NOT NULL,
    created_at     DATETIME(6)  NOT NULL,
    updated_at     DATETIME(6)  NOT NULL,
    signed_at      DATETIME(6)  NULL,
    error_reason   VARCHAR(2000) NOT NULL DEFAULT '',
    PRIMARY KEY (encounter_id, version),
    CONSTRAINT encounter_revisions_fk FOREIGN KEY (encounter_id) REFERENCES encounters (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS encounter_addenda (
    id           CHAR(36)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    encounter_id CHAR(36)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    patient_id   CHAR(36)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    author_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    text         MEDIUMTEXT  NOT NULL,
    created_at   DATETIME(6) NOT NULL,
    KEY encounter_addenda_encounter (encounter_id, id),
    CONSTRAINT encounter_addenda_fk FOREIGN KEY (encounter_id) REFERENCES encounters (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS documents (
    id           CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    patient_id   CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    status       VARCHAR(20)  CHARACTER SET ascii NOT NULL,
    type         VARCHAR(100) NOT NULL,
    category     VARCHAR(100) NOT NULL DEFAULT '',
    title        VARCHAR(200) NOT NULL,
    content_type VARCHAR(64)  CHARACTER SET ascii NOT NULL,
    size         BIGINT       NOT NULL,
    sha256       CHAR(64)     CHARACTER SET ascii NOT NULL,
    author_id    VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    doc_date     DATETIME(6)  NOT NULL,
    encounter_id CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    replaces     CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    blob_key     VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    error_reason VARCHAR(2000) NOT NULL DEFAULT '',
    version      BIGINT       NOT NULL,
    UNIQUE KEY documents_blob (blob_key),
    KEY documents_patient (patient_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS audit_events (
    id          CHAR(36)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    occurred_at DATETIME(6)   NOT NULL,
    user_id     VARCHAR(64)   CHARACTER SET ascii NOT NULL,
    role        VARCHAR(16)   CHARACTER SET ascii NOT NULL,
    action      VARCHAR(16)   CHARACTER SET ascii NOT NULL,
    resource    VARCHAR(32)   CHARACTER SET ascii NOT NULL,
    patient_id  CHAR(36)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    resource_id CHAR(36)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT '',
    outcome     VARCHAR(8)    CHARACTER SET ascii NOT NULL,
    request_id  VARCHAR(128)  CHARACTER SET ascii NOT NULL DEFAULT '',
    reason      VARCHAR(2000) NOT NULL DEFAULT '',
    KEY audit_events_patient (patient_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The audit trail, the revisions and the addenda are append-only, whatever
-- the caller.
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit events are append-only';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit events are append-only';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS encounter_revisions_no_update BEFORE UPDATE ON encounter_revisions FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'encounter revisions are append-only';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS encounter_revisions_no_delete BEFORE DELETE ON encounter_revisions FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'encounter revisions are append-only';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS encounter_addenda_no_update BEFORE UPDATE ON encounter_addenda FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'addenda are append-only';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS encounter_addenda_no_delete BEFORE DELETE ON encounter_addenda FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'addenda are append-only';
-- +goose StatementEnd
-- A signed note never changes; only its status may become entered-in-error.
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS encounters_signed_immutable BEFORE UPDATE ON encounters FOR EACH ROW
BEGIN
    IF OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
        OR NEW.subjective <> OLD.subjective OR NEW.objective <> OLD.objective OR NEW.assessment <> OLD.assessment
        OR NEW.plan <> OLD.plan OR NEW.diagnoses <> OLD.diagnoses OR NEW.prescriptions <> OLD.prescriptions)) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a signed note is immutable';
    END IF;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS encounters_no_delete BEFORE DELETE ON encounters FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'encounters are never deleted';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS documents_no_delete BEFORE DELETE ON documents FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'documents are never deleted';
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
DROP TABLE documents;
DROP TABLE encounter_addenda;
DROP TABLE encounter_revisions;
DROP TABLE encounters;
