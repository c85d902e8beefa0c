-- +goose Up
-- What the patient service last said of a patient's record, learned from
-- its events (patient.deactivated, patient.reactivated): active or not, at
-- the record's version, so that an event older than the one applied changes
-- nothing. A freed slot is never offered to the waitlist entry of a
-- patient known to be inactive, and such a patient joins no waitlist.
CREATE TABLE patient_status (
  patient_id TEXT     NOT NULL PRIMARY KEY,
  active     INTEGER  NOT NULL,
  version    INTEGER  NOT NULL,
  changed_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE patient_status;
