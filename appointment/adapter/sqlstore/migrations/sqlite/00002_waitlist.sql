-- +goose Up
-- The waitlist has a migration of its own so that databases made before
-- it gain the table; IF NOT EXISTS keeps it a no-op where an early
-- version of 00001 made it already.

-- Patients waiting for a slot of a doctor on one local day, first come
-- first offered.
CREATE TABLE IF NOT EXISTS waitlist (
  id              TEXT NOT NULL PRIMARY KEY,
  doctor_id       TEXT NOT NULL,
  day             TEXT NOT NULL,
  patient_id      TEXT NOT NULL,
  patient_user_id TEXT NOT NULL,
  created_at      DATETIME NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS waitlist_once ON waitlist (doctor_id, day, patient_id);
CREATE INDEX IF NOT EXISTS waitlist_queue ON waitlist (doctor_id, day, created_at, id);
CREATE INDEX IF NOT EXISTS waitlist_patient ON waitlist (patient_user_id, created_at);

-- +goose Down
DROP TABLE waitlist;
