-- +goose Up
-- The audit trail: who read, changed or was refused a patient's
-- appointments and waitlist entries. Ids are "C", compared byte by byte as
-- ascii_bin does on MySQL, so that the trail's order by id is the same.
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

-- Append-only, whatever the caller: row triggers refuse UPDATE and DELETE, a
-- statement trigger TRUNCATE (which row triggers do not see). Only the
-- table's owner may drop or disable them.
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

-- Beyond the triggers, no role but the owner keeps UPDATE, DELETE or
-- TRUNCATE on the table: the owner's default privileges
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
        WHERE c.relname = 'audit_events'
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
DROP FUNCTION refuse_change();
