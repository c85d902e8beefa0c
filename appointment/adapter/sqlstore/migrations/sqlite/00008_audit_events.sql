-- +goose Up
-- The audit trail: who read, changed or was refused a patient's
-- appointments and waitlist entries. Append-only, whatever the caller.
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

-- +goose StatementBegin
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
