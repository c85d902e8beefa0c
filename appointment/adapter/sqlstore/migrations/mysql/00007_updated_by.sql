-- +goose Up
-- Who made an appointment's last change, the booker at first: a
-- cancellation's code alone does not tell the patient's own from one staff
-- made in their name. An appointment never changed since it was booked was
-- last changed by its booker; for one changed before, nobody knows ('').
ALTER TABLE appointments ADD COLUMN IF NOT EXISTS updated_by VARCHAR(36) NOT NULL DEFAULT '';
UPDATE appointments SET updated_by = booked_by WHERE version = 1;

-- +goose Down
ALTER TABLE appointments DROP COLUMN updated_by;
