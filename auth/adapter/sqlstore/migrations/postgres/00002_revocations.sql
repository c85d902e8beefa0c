-- +goose Up
-- The revocation feed: id is the feed index. An identity never hands out a
-- value twice, even after the newest rows are deleted, so followers never
-- miss one.
CREATE TABLE revocations (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  session_id varchar(36) COLLATE "C",
  user_id varchar(36) COLLATE "C",
  not_before timestamptz NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX revocations_expires ON revocations(expires_at);

-- Writers of revocations lock this row before they insert, until they
-- commit: ids are then taken and committed in increasing order, so a
-- follower that has read id n can never see an id below n appear later.
-- A sequence alone hands out ids in the order transactions ask, not in the
-- order they commit.
CREATE TABLE revocation_writer (
  id smallint PRIMARY KEY CHECK (id = 1),
  writes bigint NOT NULL
);
INSERT INTO revocation_writer (id, writes) VALUES (1, 0);

-- +goose Down
DROP TABLE revocation_writer;
DROP TABLE revocations;
