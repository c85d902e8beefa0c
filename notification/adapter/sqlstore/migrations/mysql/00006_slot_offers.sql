-- +goose Up
-- The slot offers applied, by event id, kept until the offered slot's start:
-- an offer has no version or status to check, and the inbox's claims go
-- after inbox.Retention (30 days) while a dead letter may be replayed
-- later, for a slot further ahead. An offer found here is not made again;
-- one replayed after its slot began is dropped anyway.
CREATE TABLE IF NOT EXISTS slot_offers (
    event_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    expires_at DATETIME(6) NOT NULL
) DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE INDEX IF NOT EXISTS slot_offers_expires ON slot_offers (expires_at);

-- +goose Down
DROP TABLE slot_offers;
