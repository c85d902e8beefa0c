-- +goose Up
-- The signed-note trigger also guards whom and what the note is about.
DROP TRIGGER encounters_signed_immutable;
-- +goose StatementBegin
CREATE TRIGGER encounters_signed_immutable BEFORE UPDATE ON encounters
WHEN OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
    OR NEW.subjective <> OLD.subjective OR NEW.objective <> OLD.objective OR NEW.assessment <> OLD.assessment
    OR NEW.plan <> OLD.plan OR NEW.diagnoses <> OLD.diagnoses OR NEW.prescriptions <> OLD.prescriptions
    OR NEW.patient_id IS NOT OLD.patient_id OR NEW.doctor_id IS NOT OLD.doctor_id
    OR NEW.appointment_id IS NOT OLD.appointment_id OR NEW.created_at IS NOT OLD.created_at
    OR NEW.signed_at IS NOT OLD.signed_at))
BEGIN SELECT RAISE(ABORT, 'a signed note is immutable'); END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER encounters_signed_immutable;
-- +goose StatementBegin
CREATE TRIGGER encounters_signed_immutable BEFORE UPDATE ON encounters
WHEN OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
    OR NEW.subjective <> OLD.subjective OR NEW.objective <> OLD.objective OR NEW.assessment <> OLD.assessment
    OR NEW.plan <> OLD.plan OR NEW.diagnoses <> OLD.diagnoses OR NEW.prescriptions <> OLD.prescriptions))
BEGIN SELECT RAISE(ABORT, 'a signed note is immutable'); END;
-- +goose StatementEnd
