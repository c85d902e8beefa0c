-- +goose Up
-- Emails compare without regard to case in the database too: the service
-- stores them lower-cased, and citext keeps the unique constraint and every
-- lookup case-insensitive should a value ever arrive otherwise. citext is a
-- trusted extension: the database owner, who migrates, may create it.
CREATE EXTENSION IF NOT EXISTS citext;

-- Ids are UUIDs as text ("" is the start of a listing), compared byte by
-- byte whatever the database's locale, so that keyset pages follow one
-- order.
CREATE TABLE users (
  id varchar(36) COLLATE "C" PRIMARY KEY,
  email citext NOT NULL,
  full_name varchar(200) NOT NULL,
  password_hash varchar(255) NOT NULL,
  disabled boolean NOT NULL DEFAULT false,
  version integer NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  CONSTRAINT users_email UNIQUE (email),
  -- The stored form is the normalized one: lower case, at most 254 bytes.
  CONSTRAINT users_email_normalized CHECK (email::text = lower(email::text) AND octet_length(email::text) <= 254)
);

CREATE TABLE user_roles (
  user_id varchar(36) COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role varchar(16) NOT NULL,
  PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles(role, user_id);

CREATE TABLE refresh_tokens (
  id varchar(36) COLLATE "C" PRIMARY KEY,
  token_hash char(64) NOT NULL,
  family_id varchar(36) COLLATE "C" NOT NULL,
  user_id varchar(36) COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  issued_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  revoked_at timestamptz,
  CONSTRAINT refresh_tokens_hash UNIQUE (token_hash)
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);

CREATE TABLE reset_tokens (
  token_hash char(64) PRIMARY KEY,
  user_id varchar(36) COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX reset_tokens_user ON reset_tokens(user_id, created_at);
CREATE INDEX reset_tokens_expires ON reset_tokens(expires_at);

CREATE TABLE signing_keys (
  kid varchar(64) PRIMARY KEY,
  algorithm varchar(16) NOT NULL,
  private_key bytea NOT NULL CHECK (octet_length(private_key) <= 256),
  sealing varchar(32) NOT NULL,
  public_key bytea NOT NULL CHECK (octet_length(public_key) <= 64),
  created_at timestamptz NOT NULL,
  activates_at timestamptz NOT NULL,
  retires_at timestamptz
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE reset_tokens;
DROP TABLE refresh_tokens;
DROP TABLE user_roles;
DROP TABLE users;
-- citext stays: the owner may use it elsewhere, and creating it is idempotent.
