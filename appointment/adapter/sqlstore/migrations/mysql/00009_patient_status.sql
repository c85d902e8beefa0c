-- +goose Up
-- What the patient service last said of a patient's record, learned from
-- its events (patient.deactivated, patient.reactivated): active or not, at
-- the record's version, so that an event older than the one applied changes
-- nothing. A freed slot is never offered to the waitlist entry of a
-- patient known to be inactive, and such a patient joins no waitlist.
CREATE TABLE IF NOT EXISTS patient_status (
  patient_id CHAR(36)    NOT NULL PRIMARY KEY,
  active     BOOLEAN     NOT NULL,
  version    BIGINT      NOT NULL,
  changed_at DATETIME(6) NOT NULL
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE patient_status;
