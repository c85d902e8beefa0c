-- +goose Up
-- One row per patient who books or waits: the lock that serializes the
-- writers of one patient's bookings and waitlist entries, so that the caps
-- on what a patient holds, counted inside the writing transaction, hold
-- under concurrent requests.
CREATE TABLE IF NOT EXISTS patient_locks (
  patient_id CHAR(36) NOT NULL PRIMARY KEY
) ENGINE=InnoDB;

-- The waitlist cap counts a patient's entries.
CREATE INDEX IF NOT EXISTS waitlist_patient_id ON waitlist (patient_id);

-- +goose Down
DROP INDEX waitlist_patient_id ON waitlist;
DROP TABLE patient_locks;
