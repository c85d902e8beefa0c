-- +goose Up
-- The waitlist has a migration of its own so that databases made before
-- it gain the table; IF NOT EXISTS keeps it a no-op where an early
-- version of 00001 made it already.

-- Patients waiting for a slot of a doctor on one local day, first come
-- first offered.
CREATE TABLE IF NOT EXISTS waitlist (
  id              VARCHAR(36) NOT NULL PRIMARY KEY,
  doctor_id       VARCHAR(36) NOT NULL,
  day             CHAR(10) NOT NULL,
  patient_id      VARCHAR(36) NOT NULL,
  patient_user_id VARCHAR(36) NOT NULL,
  created_at      TIMESTAMPTZ(6) NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS waitlist_once ON waitlist (doctor_id, day, patient_id);
CREATE INDEX IF NOT EXISTS waitlist_queue ON waitlist (doctor_id, day, created_at, id);
CREATE INDEX IF NOT EXISTS waitlist_patient ON waitlist (patient_user_id, created_at);

-- +goose Down
DROP TABLE waitlist;
