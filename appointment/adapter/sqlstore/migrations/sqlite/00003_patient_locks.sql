-- +goose Up
-- SQLite needs no lock rows: its write transactions begin IMMEDIATE and run
-- one at a time, so the caps counted inside them hold. The waitlist cap
-- counts a patient's entries.
CREATE INDEX waitlist_patient_id ON waitlist (patient_id);

-- +goose Down
DROP INDEX waitlist_patient_id;
