-- +goose Up
-- A mail names the appointment and the version it was written for, so that
-- a reminder still in the queue when a later version cancels or moves the
-- appointment is withdrawn: `withdrawn` holds why ('' while the mail
-- stands). A queued mail is failed at once; one a worker holds is failed by
-- the worker's next step instead of being sent or queued again. Mail queued
-- before this version names no appointment.
ALTER TABLE deliveries
    ADD COLUMN IF NOT EXISTS appointment_id VARCHAR(64) NOT NULL DEFAULT '',
    ADD COLUMN IF NOT EXISTS appointment_version BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS withdrawn VARCHAR(200) NOT NULL DEFAULT '';
-- Without status, which the mail workers change: a withdrawal that scans
-- this index does not take locks a worker's lease must wait for.
CREATE INDEX IF NOT EXISTS deliveries_appointment ON deliveries (appointment_id);

-- +goose Down
DROP INDEX deliveries_appointment ON deliveries;
ALTER TABLE deliveries DROP COLUMN withdrawn, DROP COLUMN appointment_version, DROP COLUMN appointment_id;
