-- +goose Up
-- Every write transaction begins IMMEDIATE (sqldb), so writers run one at a
-- time: the store's overlap check inside the transaction then sees every
-- committed appointment, and the partial unique index refuses equal starts
-- even without it (docs/adr/0026-no-double-booking.md).
CREATE TABLE appointments (
  id                  TEXT     NOT NULL PRIMARY KEY,
  patient_id          TEXT     NOT NULL,
  patient_user_id     TEXT     NOT NULL DEFAULT '',
  doctor_id           TEXT     NOT NULL,
  doctor_user_id      TEXT     NOT NULL DEFAULT '',
  doctor_name         TEXT     NOT NULL,
  time_zone           TEXT     NOT NULL,
  start_at            DATETIME NOT NULL,
  end_at              DATETIME NOT NULL,
  status              TEXT     NOT NULL,
  reason              TEXT     NOT NULL,
  cancellation_reason TEXT     NOT NULL DEFAULT '',
  cancellation_note   TEXT     NOT NULL,
  booked_by           TEXT     NOT NULL,
  created_at          DATETIME NOT NULL,
  updated_at          DATETIME NOT NULL,
  version             INTEGER  NOT NULL,
  CHECK (end_at > start_at)
);
CREATE UNIQUE INDEX appointments_no_double ON appointments (doctor_id, start_at)
  WHERE status NOT IN ('cancelled', 'entered-in-error');
CREATE INDEX appointments_doctor ON appointments (doctor_id, start_at);
CREATE INDEX appointments_patient_user ON appointments (patient_user_id, start_at, id);
CREATE INDEX appointments_doctor_user ON appointments (doctor_user_id, start_at, id);
CREATE INDEX appointments_patient ON appointments (patient_id, start_at, id);
CREATE INDEX appointments_start ON appointments (start_at, id);

CREATE TABLE idempotency_keys (
  user_id        TEXT     NOT NULL,
  idem_key       TEXT     NOT NULL,
  request_hash   TEXT     NOT NULL,
  appointment_id TEXT     NOT NULL,
  created_at     DATETIME NOT NULL,
  PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id VARCHAR(36) NOT NULL UNIQUE,
  type VARCHAR(100) NOT NULL,
  subject VARCHAR(100) NOT NULL,
  envelope TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  published_at TIMESTAMP NULL,
  attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (published_at, seq);

-- +goose Down
DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE appointments;
