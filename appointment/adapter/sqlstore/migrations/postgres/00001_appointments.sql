-- +goose Up
-- btree_gist lets the exclusion constraint compare doctor_id with = next to
-- the range's &&. It is a trusted extension: the database owner that applies
-- the migrations may create it.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE appointments (
  id                  VARCHAR(36)    NOT NULL PRIMARY KEY,
  patient_id          VARCHAR(36)    NOT NULL,
  patient_user_id     VARCHAR(36)    NOT NULL DEFAULT '',
  doctor_id           VARCHAR(36)    NOT NULL,
  doctor_user_id      VARCHAR(36)    NOT NULL DEFAULT '',
  doctor_name         VARCHAR(300)   NOT NULL,
  time_zone           VARCHAR(64)    NOT NULL,
  start_at            TIMESTAMPTZ(6) NOT NULL,
  end_at              TIMESTAMPTZ(6) NOT NULL,
  status              VARCHAR(20)    NOT NULL,
  reason              TEXT           NOT NULL,
  cancellation_reason VARCHAR(20)    NOT NULL DEFAULT '',
  cancellation_note   TEXT           NOT NULL,
  booked_by           VARCHAR(36)    NOT NULL,
  created_at          TIMESTAMPTZ(6) NOT NULL,
  updated_at          TIMESTAMPTZ(6) NOT NULL,
  version             BIGINT         NOT NULL,
  CONSTRAINT appointments_span CHECK (end_at > start_at),
  -- No two appointments of a doctor that hold their time overlap, whatever
  -- their lengths (docs/adr/0026-no-double-booking.md).
  CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
    doctor_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&
  ) WHERE (status NOT IN ('cancelled', 'entered-in-error'))
);
CREATE INDEX appointments_doctor ON appointments (doctor_id, start_at);
CREATE INDEX appointments_patient_user ON appointments (patient_user_id, start_at, id);
CREATE INDEX appointments_doctor_user ON appointments (doctor_user_id, start_at, id);
CREATE INDEX appointments_patient ON appointments (patient_id, start_at, id);
CREATE INDEX appointments_start ON appointments (start_at, id);

CREATE TABLE idempotency_keys (
  user_id        VARCHAR(36)    NOT NULL,
  idem_key       VARCHAR(255)   NOT NULL,
  request_hash   VARCHAR(64)       NOT NULL,
  appointment_id VARCHAR(36)    NOT NULL,
  created_at     TIMESTAMPTZ(6) NOT NULL,
  PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE outbox (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id VARCHAR(36) NOT NULL UNIQUE,
  type VARCHAR(100) NOT NULL,
  subject VARCHAR(100) NOT NULL,
  envelope TEXT NOT NULL,
  created_at TIMESTAMPTZ(6) NOT NULL,
  published_at TIMESTAMPTZ(6) NULL,
  attempts INT NOT NULL DEFAULT 0
);
-- The relay scans only what waits: a partial index stays small.
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE idempotency_keys;
DROP TABLE appointments;
