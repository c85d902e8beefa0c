-- +goose Up
-- The signed-note trigger also guards whom and what the note is about.
DROP TRIGGER encounters_signed_immutable ON encounters;
CREATE TRIGGER encounters_signed_immutable BEFORE UPDATE ON encounters FOR EACH ROW
    WHEN (OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
        OR NEW.subjective <> OLD.subjective OR NEW.objective <> OLD.objective OR NEW.assessment <> OLD.assessment
        OR NEW.plan <> OLD.plan OR NEW.diagnoses <> OLD.diagnoses OR NEW.prescriptions <> OLD.prescriptions
        OR NEW.patient_id IS DISTINCT FROM OLD.patient_id OR NEW.doctor_id IS DISTINCT FROM OLD.doctor_id
        OR NEW.appointment_id IS DISTINCT FROM OLD.appointment_id OR NEW.created_at IS DISTINCT FROM OLD.created_at
        OR NEW.signed_at IS DISTINCT FROM OLD.signed_at)))
    EXECUTE FUNCTION refuse_change('a signed note is immutable');

-- +goose Down
DROP TRIGGER encounters_signed_immutable ON encounters;
CREATE TRIGGER encounters_signed_immutable BEFORE UPDATE ON encounters FOR EACH ROW
    WHEN (OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
        OR NEW.subjective <> OLD.subjective OR NEW.objective <> OLD.objective OR NEW.assessment <> OLD.assessment
        OR NEW.plan <> OLD.plan OR NEW.diagnoses <> OLD.diagnoses OR NEW.prescriptions <> OLD.prescriptions)))
    EXECUTE FUNCTION refuse_change('a signed note is immutable');
