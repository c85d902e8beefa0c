-- +goose Up
-- One row per doctor who is booked: the lock that makes the writers of one
-- doctor's times queue. The exclusion constraint still refuses every
-- overlap; the queue keeps concurrent inserts of overlapping times from
-- deadlocking on each other's uncommitted index entries
-- (docs/adr/0026-no-double-booking.md).
CREATE TABLE doctor_locks (
  doctor_id VARCHAR(36) NOT NULL PRIMARY KEY
);

-- +goose Down
DROP TABLE doctor_locks;
