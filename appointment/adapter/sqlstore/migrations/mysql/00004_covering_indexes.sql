-- +goose Up
-- The overlap check (by doctor and start) and the count of a patient's
-- active appointments (by patient and start) read end_at and status from
-- the index alone, instead of fetching a row for every appointment the
-- range holds: up to a day of a doctor's slots, all of a patient's future
-- appointments.
ALTER TABLE appointments
  DROP INDEX appointments_doctor,
  ADD INDEX appointments_doctor (doctor_id, start_at, end_at, status),
  DROP INDEX appointments_patient,
  ADD INDEX appointments_patient (patient_id, start_at, id, end_at, status);

-- +goose Down
ALTER TABLE appointments
  DROP INDEX appointments_doctor,
  ADD INDEX appointments_doctor (doctor_id, start_at),
  DROP INDEX appointments_patient,
  ADD INDEX appointments_patient (patient_id, start_at, id);
