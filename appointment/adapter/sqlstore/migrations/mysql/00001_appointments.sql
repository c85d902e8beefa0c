-- +goose Up
-- The times a doctor's appointments hold. Two appointments of one doctor
-- that both hold their time never overlap:
--   * equal starts are refused by the unique index on the generated column
--     active_start, NULL (so never equal) once an appointment is cancelled or
--     entered in error;
--   * unequal overlapping spans (a slot length changed) are refused by the
--     store, which takes the doctor's row of doctor_locks FOR UPDATE before it
--     checks for an overlap and writes, so writers of one doctor queue
--     (docs/adr/0026-no-double-booking.md).
CREATE TABLE IF NOT EXISTS appointments (
  id                  CHAR(36)     NOT NULL PRIMARY KEY,
  patient_id          CHAR(36)     NOT NULL,
  patient_user_id     VARCHAR(36)  NOT NULL DEFAULT '',
  doctor_id           CHAR(36)     NOT NULL,
  doctor_user_id      VARCHAR(36)  NOT NULL DEFAULT '',
  doctor_name         VARCHAR(300) NOT NULL,
  time_zone           VARCHAR(64)  NOT NULL,
  start_at            DATETIME(6)  NOT NULL,
  end_at              DATETIME(6)  NOT NULL,
  status              VARCHAR(20)  NOT NULL,
  reason              TEXT         NOT NULL,
  cancellation_reason VARCHAR(20)  NOT NULL DEFAULT '',
  cancellation_note   TEXT         NOT NULL,
  booked_by           VARCHAR(36)  NOT NULL,
  created_at          DATETIME(6)  NOT NULL,
  updated_at          DATETIME(6)  NOT NULL,
  version             BIGINT       NOT NULL,
  active_start        DATETIME(6)  AS (IF(status IN ('cancelled', 'entered-in-error'), NULL, start_at)) STORED,
  CONSTRAINT appointments_span CHECK (end_at > start_at),
  UNIQUE KEY appointments_no_double (doctor_id, active_start),
  KEY appointments_doctor (doctor_id, start_at),
  KEY appointments_patient_user (patient_user_id, start_at, id),
  KEY appointments_doctor_user (doctor_user_id, start_at, id),
  KEY appointments_patient (patient_id, start_at, id),
  KEY appointments_start (start_at, id)
) ENGINE=InnoDB;

-- One row per doctor with appointments: the lock that serializes the
-- writers of that doctor's times.
CREATE TABLE IF NOT EXISTS doctor_locks (
  doctor_id CHAR(36) NOT NULL PRIMARY KEY
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS idempotency_keys (
  user_id        VARCHAR(36)  NOT NULL,
  idem_key       VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  request_hash   VARCHAR(64)     NOT NULL,
  appointment_id CHAR(36)     NOT NULL,
  created_at     DATETIME(6)  NOT NULL,
  PRIMARY KEY (user_id, idem_key),
  KEY idempotency_keys_created (created_at)
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS outbox (
  seq BIGINT AUTO_INCREMENT PRIMARY KEY,
  event_id VARCHAR(36) NOT NULL UNIQUE,
  type VARCHAR(100) NOT NULL,
  subject VARCHAR(100) NOT NULL,
  envelope MEDIUMTEXT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  published_at DATETIME(6) NULL,
  attempts INT NOT NULL DEFAULT 0,
  KEY outbox_pending (published_at, seq)
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE doctor_locks;
DROP TABLE appointments;
