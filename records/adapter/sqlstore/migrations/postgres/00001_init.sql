-- +goose Up
CREATE TABLE encounters (
    id             VARCHAR(36) COLLATE "C"     NOT NULL PRIMARY KEY,
    patient_id     VARCHAR(36) COLLATE "C"     NOT NULL,
    doctor_id      VARCHAR(64) COLLATE "C"  NOT NULL,
    status         VARCHAR(20)  NOT NULL,
    appointment_id VARCHAR(36) COLLATE "C"     NOT NULL DEFAULT '',
    subjective     TEXT         NOT NULL,
    objective      TEXT         NOT NULL,
    assessment     TEXT         NOT NULL,
    plan           TEXT         NOT NULL,
    -- Diagnoses and prescriptions as JSON arrays: they are read and written
    -- with their note, never queried on their own.
    diagnoses      TEXT         NOT NULL,
    prescriptions  TEXT         NOT NULL,
    created_at     TIMESTAMPTZ  NOT NULL,
    updated_at     TIMESTAMPTZ  NOT NULL,
    signed_at      TIMESTAMPTZ  NULL,
    error_reason   VARCHAR(2000) NOT NULL DEFAULT '',
    version        BIGINT       NOT NULL
);
CREATE INDEX encounters_patient ON encounters (patient_id, id);
CREATE INDEX encounters_doctor ON encounters (patient_id, doctor_id);

-- Every version of every encounter, the first included; rows are only added.
CREATE TABLE encounter_revisions (
    encounter_id   VARCHAR(36) COLLATE "C"     NOT NULL,
    version        BIGINT       NOT NULL,
    patient_id     VARCHAR(36) COLLATE "C"     NOT NULL,
    doctor_id      VARCHAR(64) COLLATE "C"  NOT NULL,
    status         VARCHAR(20)  NOT NULL,
    appointment_id VARCHAR(36) COLLATE "C"     NOT NULL DEFAULT '',
    subjective     TEXT         NOT NULL,
    objective      TEXT         NOT NULL,
    assessment     TEXT         NOT NULL,
    plan           TEXT         NOT NULL,
    diagnoses      TEXT         NOT NULL,
    prescriptions  TEXT         NOT NULL,
    created_at     TIMESTAMPTZ  NOT NULL,
    updated_at     TIMESTAMPTZ  NOT NULL,
    signed_at      TIMESTAMPTZ  NULL,
    error_reason   VARCHAR(2000) NOT NULL DEFAULT '',
    PRIMARY KEY (encounter_id, version),
    CONSTRAINT encounter_revisions_fk FOREIGN KEY (encounter_id) REFERENCES encounters (id)
);

CREATE TABLE encounter_addenda (
    id           VARCHAR(36) COLLATE "C"    NOT NULL PRIMARY KEY,
    encounter_id VARCHAR(36) COLLATE "C"    NOT NULL,
    patient_id   VARCHAR(36) COLLATE "C"    NOT NULL,
    author_id    VARCHAR(64) COLLATE "C" NOT NULL,
    text         TEXT        NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    CONSTRAINT encounter_addenda_fk FOREIGN KEY (encounter_id) REFERENCES encounters (id)
);
CREATE INDEX encounter_addenda_encounter ON encounter_addenda (encounter_id, id);

CREATE TABLE documents (
    id           VARCHAR(36) COLLATE "C"     NOT NULL PRIMARY KEY,
    patient_id   VARCHAR(36) COLLATE "C"     NOT NULL,
    status       VARCHAR(20)  NOT NULL,
    type         VARCHAR(100) NOT NULL,
    category     VARCHAR(100) NOT NULL DEFAULT '',
    title        VARCHAR(200) NOT NULL,
    content_type VARCHAR(64)  NOT NULL,
    size         BIGINT       NOT NULL,
    sha256       VARCHAR(64)     NOT NULL,
    author_id    VARCHAR(64) COLLATE "C"  NOT NULL,
    doc_date     TIMESTAMPTZ  NOT NULL,
    encounter_id VARCHAR(36) COLLATE "C"     NOT NULL DEFAULT '',
    replaces     VARCHAR(36) COLLATE "C"     NOT NULL DEFAULT '',
    blob_key     VARCHAR(200) COLLATE "C" NOT NULL,
    error_reason VARCHAR(2000) NOT NULL DEFAULT '',
    version      BIGINT       NOT NULL
);
CREATE UNIQUE INDEX documents_blob ON documents (blob_key);
CREATE INDEX documents_patient ON documents (patient_id, id);

CREATE TABLE audit_events (
    id          VARCHAR(36) COLLATE "C"      NOT NULL PRIMARY KEY,
    occurred_at TIMESTAMPTZ   NOT NULL,
    user_id     VARCHAR(64)   NOT NULL,
    role        VARCHAR(16)   NOT NULL,
    action      VARCHAR(16)   NOT NULL,
    resource    VARCHAR(32)   NOT NULL,
    patient_id  VARCHAR(36) COLLATE "C"      NOT NULL DEFAULT '',
    resource_id VARCHAR(36) COLLATE "C"      NOT NULL DEFAULT '',
    outcome     VARCHAR(8)    NOT NULL,
    request_id  VARCHAR(128)  NOT NULL DEFAULT '',
    reason      VARCHAR(2000) NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_patient ON audit_events (patient_id, id);


-- The audit trail, the revisions and the addenda are append-only, whatever
-- the caller: row triggers refuse UPDATE and DELETE, statement triggers
-- TRUNCATE. Encounters and documents are never deleted, and a signed note
-- changes only to entered-in-error.
-- +goose StatementBegin
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change('audit events are append-only');
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change('audit events are append-only');
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('audit events are append-only');
CREATE TRIGGER encounter_revisions_no_update BEFORE UPDATE ON encounter_revisions
    FOR EACH ROW EXECUTE FUNCTION refuse_change('encounter revisions are append-only');
CREATE TRIGGER encounter_revisions_no_delete BEFORE DELETE ON encounter_revisions
    FOR EACH ROW EXECUTE FUNCTION refuse_change('encounter revisions are append-only');
CREATE TRIGGER encounter_revisions_no_truncate BEFORE TRUNCATE ON encounter_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('encounter revisions are append-only');
CREATE TRIGGER encounter_addenda_no_update BEFORE UPDATE ON encounter_addenda
    FOR EACH ROW EXECUTE FUNCTION refuse_change('addenda are append-only');
CREATE TRIGGER encounter_addenda_no_delete BEFORE DELETE ON encounter_addenda
    FOR EACH ROW EXECUTE FUNCTION refuse_change('addenda are append-only');
CREATE TRIGGER encounter_addenda_no_truncate BEFORE TRUNCATE ON encounter_addenda
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('addenda are append-only');
CREATE TRIGGER encounters_no_delete BEFORE DELETE ON encounters
    FOR EACH ROW EXECUTE FUNCTION refuse_change('encounters are never deleted');
CREATE TRIGGER encounters_no_truncate BEFORE TRUNCATE ON encounters
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('encounters are never deleted');
CREATE TRIGGER documents_no_delete BEFORE DELETE ON documents
    FOR EACH ROW EXECUTE FUNCTION refuse_change('documents are never deleted');
CREATE TRIGGER documents_no_truncate BEFORE TRUNCATE ON documents
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('documents are never deleted');
CREATE TRIGGER encounters_signed_immutable BEFORE UPDATE ON encounters FOR EACH ROW
    WHEN (OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
        OR NEW.subjective <> OLD.subjective OR NEW.objective <> OLD.objective OR NEW.assessment <> OLD.assessment
        OR NEW.plan <> OLD.plan OR NEW.diagnoses <> OLD.diagnoses OR NEW.prescriptions <> OLD.prescriptions)))
    EXECUTE FUNCTION refuse_change('a signed note is immutable');

-- Beyond the triggers, no role but the owner keeps UPDATE, DELETE or
-- TRUNCATE on the append-only tables (see patient's first migration).
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT c.relname, a.grantee::regrole AS grantee
        FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.relname IN ('audit_events', 'encounter_revisions', 'encounter_addenda')
          AND c.relnamespace = current_schema()::regnamespace
          AND a.grantee <> 0 AND a.grantee <> c.relowner
          AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
    LOOP
        EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %I FROM %s', r.relname, r.grantee);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
DROP TABLE documents;
DROP TABLE encounter_addenda;
DROP TABLE encounter_revisions;
DROP TABLE encounters;
DROP FUNCTION refuse_change();
