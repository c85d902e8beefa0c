-- +goose Up
-- The waitlist has a migration of its own so that databases made before
-- it gain the table; IF NOT EXISTS keeps it a no-op where an early
-- version of 00001 made it already.

-- Patients waiting for a slot of a doctor on one local day, first come
-- first offered.
CREATE TABLE IF NOT EXISTS waitlist (
  id              CHAR(36) NOT NULL PRIMARY KEY,
  doctor_id       CHAR(36) NOT NULL,
  day             CHAR(10) NOT NULL,
  patient_id      CHAR(36) NOT NULL,
  patient_user_id VARCHAR(36) NOT NULL,
  created_at      DATETIME(6) NOT NULL,
  UNIQUE KEY waitlist_once (doctor_id, day, patient_id),
  KEY waitlist_queue (doctor_id, day, created_at, id),
  KEY waitlist_patient (patient_user_id, created_at)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE waitlist;
