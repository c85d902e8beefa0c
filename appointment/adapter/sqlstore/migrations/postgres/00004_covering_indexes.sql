-- +goose Up
-- The taken times (by doctor and start) and the count of a patient's
-- active appointments (by patient and start) read end_at and status from
-- the index alone (an index-only scan), instead of fetching a row for
-- every appointment the range holds.
DROP INDEX appointments_doctor;
CREATE INDEX appointments_doctor ON appointments (doctor_id, start_at) INCLUDE (end_at, status);
DROP INDEX appointments_patient;
CREATE INDEX appointments_patient ON appointments (patient_id, start_at, id) INCLUDE (end_at, status);

-- +goose Down
DROP INDEX appointments_doctor;
CREATE INDEX appointments_doctor ON appointments (doctor_id, start_at);
DROP INDEX appointments_patient;
CREATE INDEX appointments_patient ON appointments (patient_id, start_at, id);
