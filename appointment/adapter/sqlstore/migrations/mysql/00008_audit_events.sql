-- +goose Up
-- The audit trail: who read, changed or was refused a patient's
-- appointments and waitlist entries. Append-only, whatever the caller: the
-- triggers refuse UPDATE and DELETE, and the serving account, which holds
-- data rights only (SELECT, INSERT, UPDATE, DELETE), may not drop them.
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

-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit events are append-only';
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH ROW
SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit events are append-only';
-- +goose StatementEnd

-- +goose Down
DROP TABLE audit_events;
