-- +goose Up
-- The version of the last event that mailed a change of the appointment
-- (booked, rescheduled, cancelled). The reminder's own version is the
-- newest event applied; a change event older than that one but newer than
-- this one (a cancellation applied after the status change it caused) still
-- mails its change, and one not newer than this one was told already, or
-- superseded by a later change's mail. A reminder stored before this
-- version starts at its own version: no event older than it mails.
ALTER TABLE reminders ADD COLUMN IF NOT EXISTS change_version BIGINT NOT NULL DEFAULT 0;
UPDATE reminders SET change_version = version;

-- +goose Down
ALTER TABLE reminders DROP COLUMN change_version;
