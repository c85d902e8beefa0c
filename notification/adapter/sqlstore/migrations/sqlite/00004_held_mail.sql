-- +goose Up
-- A mail to a user the directory does not know yet (their auth.user_registered
-- comes on another stream, so it may arrive after the appointment event) is
-- held here, as the template and its data, until that registration arrives:
-- it is then written in the user's language and queued. One whose
-- appointment has begun meanwhile is dropped, as the queue drops it.
CREATE TABLE held_mails (
    id                  VARCHAR(64) NOT NULL PRIMARY KEY,
    user_id             VARCHAR(64) NOT NULL,
    kind                VARCHAR(40) NOT NULL,
    data                TEXT NOT NULL,
    appointment_id      VARCHAR(64) NOT NULL DEFAULT '',
    appointment_version BIGINT NOT NULL DEFAULT 0,
    expires_at          DATETIME NOT NULL,
    created_at          DATETIME NOT NULL
);
CREATE INDEX held_mails_user ON held_mails (user_id, created_at);
CREATE INDEX held_mails_expires ON held_mails (expires_at);
-- A late change looks for the mail it held (ChangeMailed).
CREATE INDEX held_mails_appointment ON held_mails (appointment_id);
-- Each mail pass releases the oldest held mail of users known by then.
CREATE INDEX held_mails_created ON held_mails (created_at, id);

-- +goose Down
DROP TABLE held_mails;
