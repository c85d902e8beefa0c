-- +goose Up
-- The signed-note trigger compares the note byte for byte (the table's
-- case- and accent-insensitive collation let a change of case or accent
-- pass) and also guards whom and what the note is about.
DROP TRIGGER IF EXISTS encounters_signed_immutable;
-- +goose StatementBegin
CREATE TRIGGER encounters_signed_immutable BEFORE UPDATE ON encounters FOR EACH ROW
BEGIN
    IF OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
        OR NOT (NEW.subjective COLLATE utf8mb4_bin <=> OLD.subjective)
        OR NOT (NEW.objective COLLATE utf8mb4_bin <=> OLD.objective)
        OR NOT (NEW.assessment COLLATE utf8mb4_bin <=> OLD.assessment)
        OR NOT (NEW.plan COLLATE utf8mb4_bin <=> OLD.plan)
        OR NOT (NEW.diagnoses COLLATE utf8mb4_bin <=> OLD.diagnoses)
        OR NOT (NEW.prescriptions COLLATE utf8mb4_bin <=> OLD.prescriptions)
        OR NOT (NEW.patient_id <=> OLD.patient_id) OR NOT (NEW.doctor_id <=> OLD.doctor_id)
        OR NOT (NEW.appointment_id <=> OLD.appointment_id) OR NOT (NEW.created_at <=> OLD.created_at)
        OR NOT (NEW.signed_at <=> OLD.signed_at))) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a signed note is immutable';
    END IF;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER encounters_signed_immutable;
-- +goose StatementBegin
CREATE TRIGGER encounters_signed_immutable BEFORE UPDATE ON encounters FOR EACH ROW
BEGIN
    IF OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
        OR NEW.subjective <> OLD.subjective OR NEW.objective <> OLD.objective OR NEW.assessment <> OLD.assessment
        OR NEW.plan <> OLD.plan OR NEW.diagnoses <> OLD.diagnoses OR NEW.prescriptions <> OLD.prescriptions)) THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'a signed note is immutable';
    END IF;
END;
-- +goose StatementEnd
