-- +goose Up
-- Ids and the lower-case search copies use the "C" collation: ids compare
-- byte by byte, as ascii_bin does on MySQL, and a btree index in "C" serves
-- LIKE 'x%' as a range scan, which no other collation does. The store writes
-- the copies already lower-cased, so prefix search and email lookup ignore
-- case as on MySQL (utf8mb4_unicode_ci) and SQLite (NOCASE): they are the
-- functional index lower(name) would be, kept in a column.
CREATE TABLE patients (
    id                 VARCHAR(36)  COLLATE "C" NOT NULL PRIMARY KEY,
    user_id            VARCHAR(36)  COLLATE "C" NULL,
    first_name         VARCHAR(100) NOT NULL,
    last_name          VARCHAR(100) NOT NULL,
    first_name_norm    VARCHAR(100) COLLATE "C" NOT NULL,
    last_name_norm     VARCHAR(100) COLLATE "C" NOT NULL,
    date_of_birth      VARCHAR(10)  COLLATE "C" NOT NULL,
    sex                VARCHAR(16)  NOT NULL,
    email              VARCHAR(254) NOT NULL DEFAULT '',
    email_norm         VARCHAR(254) COLLATE "C" NOT NULL DEFAULT '',
    phone              VARCHAR(16)  NOT NULL DEFAULT '',
    address_line1      VARCHAR(200) NOT NULL DEFAULT '',
    address_line2      VARCHAR(200) NOT NULL DEFAULT '',
    address_city       VARCHAR(100) NOT NULL DEFAULT '',
    address_state      VARCHAR(100) NOT NULL DEFAULT '',
    address_postal     VARCHAR(20)  NOT NULL DEFAULT '',
    address_country    VARCHAR(2)   NOT NULL DEFAULT '',
    ec_name            VARCHAR(200) NOT NULL DEFAULT '',
    ec_relationship    VARCHAR(50)  NOT NULL DEFAULT '',
    ec_phone           VARCHAR(16)  NOT NULL DEFAULT '',
    preferred_language VARCHAR(35)  NOT NULL DEFAULT '',
    blood_type         VARCHAR(3)   NOT NULL DEFAULT '',
    active             BOOLEAN      NOT NULL,
    version            BIGINT       NOT NULL,
    created_at         TIMESTAMPTZ  NOT NULL,
    updated_at         TIMESTAMPTZ  NOT NULL,
    CONSTRAINT patients_user UNIQUE (user_id)
);
CREATE INDEX patients_last_first ON patients (last_name_norm, first_name_norm, id);
CREATE INDEX patients_first_last ON patients (first_name_norm, last_name_norm, id);
CREATE INDEX patients_dob ON patients (date_of_birth, last_name_norm, first_name_norm, id);
CREATE INDEX patients_email ON patients (email_norm);

CREATE TABLE history_entries (
    id          VARCHAR(36)  COLLATE "C" NOT NULL PRIMARY KEY,
    patient_id  VARCHAR(36)  COLLATE "C" NOT NULL,
    type        VARCHAR(20)  NOT NULL,
    description VARCHAR(500) NOT NULL,
    code        VARCHAR(64)  NOT NULL DEFAULT '',
    code_system VARCHAR(200) NOT NULL DEFAULT '',
    status      VARCHAR(20)  NOT NULL,
    onset_date  VARCHAR(10)  NOT NULL DEFAULT '',
    end_date    VARCHAR(10)  NOT NULL DEFAULT '',
    severity    VARCHAR(10)  NOT NULL DEFAULT '',
    notes       TEXT         NOT NULL,
    recorded_by VARCHAR(64)  NOT NULL,
    recorded_at TIMESTAMPTZ  NOT NULL,
    amended_by  VARCHAR(64)  NOT NULL DEFAULT '',
    amended_at  TIMESTAMPTZ  NULL,
    version     BIGINT       NOT NULL,
    CONSTRAINT history_entries_patient_fk FOREIGN KEY (patient_id) REFERENCES patients (id)
);
CREATE INDEX history_entries_patient ON history_entries (patient_id, id);

-- Every revision of every entry, the first included; rows are only added.
CREATE TABLE history_revisions (
    entry_id    VARCHAR(36)  COLLATE "C" NOT NULL,
    version     BIGINT       NOT NULL,
    patient_id  VARCHAR(36)  COLLATE "C" NOT NULL,
    type        VARCHAR(20)  NOT NULL,
    description VARCHAR(500) NOT NULL,
    code        VARCHAR(64)  NOT NULL DEFAULT '',
    code_system VARCHAR(200) NOT NULL DEFAULT '',
    status      VARCHAR(20)  NOT NULL,
    onset_date  VARCHAR(10)  NOT NULL DEFAULT '',
    end_date    VARCHAR(10)  NOT NULL DEFAULT '',
    severity    VARCHAR(10)  NOT NULL DEFAULT '',
    notes       TEXT         NOT NULL,
    recorded_by VARCHAR(64)  NOT NULL,
    recorded_at TIMESTAMPTZ  NOT NULL,
    amended_by  VARCHAR(64)  NOT NULL DEFAULT '',
    amended_at  TIMESTAMPTZ  NULL,
    PRIMARY KEY (entry_id, version),
    CONSTRAINT history_revisions_entry_fk FOREIGN KEY (entry_id) REFERENCES history_entries (id)
);

CREATE TABLE audit_events (
    id          VARCHAR(36)  COLLATE "C" NOT NULL PRIMARY KEY,
    occurred_at TIMESTAMPTZ  NOT NULL,
    user_id     VARCHAR(64)  NOT NULL,
    role        VARCHAR(16)  NOT NULL,
    action      VARCHAR(16)  NOT NULL,
    resource    VARCHAR(32)  NOT NULL,
    patient_id  VARCHAR(36)  COLLATE "C" NOT NULL DEFAULT '',
    resource_id VARCHAR(36)  COLLATE "C" NOT NULL DEFAULT '',
    outcome     VARCHAR(8)   NOT NULL,
    request_id  VARCHAR(128) NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_patient ON audit_events (patient_id, id);

-- The audit trail and the revisions are append-only, whatever the caller:
-- row triggers refuse UPDATE and DELETE, a statement trigger TRUNCATE (which
-- row triggers do not see). Only the tables' owner may drop or disable them.
-- +goose StatementBegin
CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% are append-only', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change('audit events');
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION refuse_change('audit events');
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('audit events');
CREATE TRIGGER history_revisions_no_update BEFORE UPDATE ON history_revisions
    FOR EACH ROW EXECUTE FUNCTION refuse_change('history revisions');
CREATE TRIGGER history_revisions_no_delete BEFORE DELETE ON history_revisions
    FOR EACH ROW EXECUTE FUNCTION refuse_change('history revisions');
CREATE TRIGGER history_revisions_no_truncate BEFORE TRUNCATE ON history_revisions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_change('history revisions');

-- Beyond the triggers, no role but the owner keeps UPDATE, DELETE or
-- TRUNCATE on the two tables: the owner's default privileges
-- (scripts/postgres-up.sh) grant the runtime role SELECT, INSERT, UPDATE and
-- DELETE on every table it creates, and here they are taken back.
-- +goose StatementBegin
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT DISTINCT c.relname, a.grantee::regrole AS grantee
        FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.relname IN ('audit_events', 'history_revisions')
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
DROP TABLE history_revisions;
DROP TABLE history_entries;
DROP TABLE patients;
DROP FUNCTION refuse_change();
