-- +goose Up
-- The slot offers applied, by event id, kept until the offered slot's start:
-- an offer has no version or status to check, and the inbox's claims go
-- after inbox.Retention (30 days) while a dead letter may be replayed
-- later, for a slot further ahead. An offer found here is not made again;
-- one replayed after its slot began is dropped anyway.
CREATE TABLE slot_offers (
    event_id   VARCHAR(64) NOT NULL PRIMARY KEY,
    expires_at DATETIME NOT NULL
);
CREATE INDEX slot_offers_expires ON slot_offers (expires_at);
-- The offers applied before this table, known only by their inbox claims,
-- are kept as long as a slot may lie ahead (bookings reach 365 days).
INSERT INTO slot_offers (event_id, expires_at)
SELECT event_id, datetime(processed_at, '+367 days') FROM processed_events WHERE type = 'appointment.slot_freed';

-- +goose Down
DROP TABLE slot_offers;
