-- +goose Up
-- The signed-note trigger compares the note as bytes: utf8mb4_bin, which
-- 00003 compared with, pads with spaces, so a signed section rewritten with
-- trailing blanks added or removed passed. Ids are compared as bytes too.
DROP TRIGGER IF EXISTS encounters_signed_immutable;
-- +goose StatementBegin
CREATE TRIGGER encounters_signed_immutable BEFORE UPDATE ON encounters FOR EACH ROW
BEGIN
    IF OLD.status = 'entered-in-error' OR (OLD.status = 'signed' AND (NEW.status <> 'entered-in-error'
        OR NOT (CAST(NEW.subjective AS BINARY) <=> CAST(OLD.subjective AS BINARY))
        OR NOT (CAST(NEW.objective AS BINARY) <=> CAST(OLD.objective AS BINARY))
        OR NOT (CAST(NEW.assessment AS BINARY) <=> CAST(OLD.assessment AS BINARY))
        OR NOT (CAST(NEW.plan AS BINARY) <=> CAST(OLD.plan AS BINARY))
        OR NOT (CAST(NEW.diagnoses AS BINARY) <=> CAST(OLD.diagnoses AS BINARY))
        OR NOT (CAST(NEW.prescriptions AS BINARY) <=> CAST(OLD.prescriptions AS BINARY))
        OR NOT (CAST(NEW.patient_id AS BINARY) <=> CAST(OLD.patient_id AS BINARY))
        OR NOT (CAST(NEW.doctor_id AS BINARY) <=> CAST(OLD.doctor_id AS BINARY))
        OR NOT (CAST(NEW.appointment_id AS BINARY) <=> CAST(OLD.appointment_id AS BINARY))
        OR NOT (NEW.created_at <=> OLD.created_at)
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
