-- +goose Up
-- The instants a waitlist entry's day begins and ends (UTC), and the
-- doctor's zone it was read in, as the doctor service had them when the
-- patient joined: a freed slot goes to the first entry whose day holds its
-- start, whatever zone the doctor has moved to since. Entries from before
-- have neither (NULL, ''); a slot is offered to them for its day in the
-- zone stored with the appointment.
ALTER TABLE waitlist ADD COLUMN IF NOT EXISTS day_from DATETIME(6) NULL;
ALTER TABLE waitlist ADD COLUMN IF NOT EXISTS day_until DATETIME(6) NULL;
ALTER TABLE waitlist ADD COLUMN IF NOT EXISTS time_zone VARCHAR(64) NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE waitlist DROP COLUMN time_zone;
ALTER TABLE waitlist DROP COLUMN day_until;
ALTER TABLE waitlist DROP COLUMN day_from;
