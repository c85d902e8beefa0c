-- +goose Up
-- A mail to a user the directory does not know yet (their auth.user_registered
-- comes on another stream, so it may arrive after the appointment event) is
-- held here, as the template and its data, until that registration arrives:
-- it is then written in the user's language and queued. One whose
-- appointment has begun meanwhile is dropped, as the queue drops it.
CREATE TABLE IF NOT EXISTS held_mails (
    id                  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id             VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind                VARCHAR(40) NOT NULL,
    data                TEXT NOT NULL,
    appointment_id      VARCHAR(64) NOT NULL DEFAULT '',
    appointment_version BIGINT NOT NULL DEFAULT 0,
    expires_at          DATETIME(6) NOT NULL,
    created_at          DATETIME(6) NOT NULL
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE INDEX IF NOT EXISTS held_mails_user ON held_mails (user_id, created_at);
CREATE INDEX IF NOT EXISTS held_mails_expires ON held_mails (expires_at);
-- A late change looks for the mail it held (ChangeMailed).
CREATE INDEX IF NOT EXISTS held_mails_appointment ON held_mails (appointment_id);
-- Each mail pass releases the oldest held mail of users known by then.
CREATE INDEX IF NOT EXISTS held_mails_created ON held_mails (created_at, id);

-- +goose Down
DROP TABLE held_mails;
