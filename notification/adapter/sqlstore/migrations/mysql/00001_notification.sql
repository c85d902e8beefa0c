-- +goose Up
-- The inbox of shared/inbox: one row per event applied.
CREATE TABLE IF NOT EXISTS processed_events (
    event_id     VARCHAR(36) NOT NULL PRIMARY KEY,
    type         VARCHAR(100) NOT NULL,
    processed_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;

-- The directory: where and in which language to write to a user.
CREATE TABLE IF NOT EXISTS users (
    user_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    email      VARCHAR(254) NOT NULL,
    role       VARCHAR(16) NOT NULL DEFAULT '',
    language   VARCHAR(35) NOT NULL DEFAULT 'en'
) ENGINE=InnoDB;

-- A user's channels; no row means the defaults at version 1.
CREATE TABLE IF NOT EXISTS preferences (
    user_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    email      BOOLEAN NOT NULL,
    in_app     BOOLEAN NOT NULL,
    reminders  BOOLEAN NOT NULL,
    version    BIGINT NOT NULL,
    updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;

-- The in-app inbox; ids are UUID v7, so id order is creation order.
CREATE TABLE IF NOT EXISTS notifications (
    id         VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind       VARCHAR(40) NOT NULL,
    title      VARCHAR(400) NOT NULL,
    body       TEXT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    read_at    DATETIME(6) NULL
) ENGINE=InnoDB;
CREATE INDEX IF NOT EXISTS notifications_user ON notifications (user_id, id);
CREATE INDEX IF NOT EXISTS notifications_unread ON notifications (user_id, read_at);

-- The outgoing mail queue and its delivery report. Bodies are erased once
-- a mail is sent or given up.
CREATE TABLE IF NOT EXISTS deliveries (
    id              VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    user_id         VARCHAR(64) NOT NULL DEFAULT '',
    kind            VARCHAR(40) NOT NULL,
    recipient       VARCHAR(254) NOT NULL,
    subject         VARCHAR(400) NOT NULL,
    body_text       TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    status          VARCHAR(10) NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      VARCHAR(500) NOT NULL DEFAULT '',
    next_attempt_at DATETIME(6) NOT NULL,
    lease_until     DATETIME(6) NULL,
    expires_at      DATETIME(6) NULL,
    created_at      DATETIME(6) NOT NULL,
    updated_at      DATETIME(6) NOT NULL,
    sent_at         DATETIME(6) NULL
) ENGINE=InnoDB;
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_status ON deliveries (status, id);

-- One reminder per appointment, at the appointment's latest version.
CREATE TABLE IF NOT EXISTS reminders (
    appointment_id  VARCHAR(64) NOT NULL PRIMARY KEY,
    patient_user_id VARCHAR(64) NOT NULL,
    doctor_name     VARCHAR(200) NOT NULL DEFAULT '',
    time_zone       VARCHAR(64) NOT NULL,
    start_at        DATETIME(6) NOT NULL,
    end_at          DATETIME(6) NULL,
    due_at          DATETIME(6) NOT NULL,
    status          VARCHAR(10) NOT NULL,
    version         BIGINT NOT NULL,
    updated_at      DATETIME(6) NOT NULL
) ENGINE=InnoDB;
CREATE INDEX IF NOT EXISTS reminders_due ON reminders (status, due_at);

-- +goose Down
DROP TABLE reminders;
DROP TABLE deliveries;
DROP TABLE notifications;
DROP TABLE preferences;
DROP TABLE users;
DROP TABLE processed_events;
