-- +goose Up
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  full_name TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL
);

CREATE TABLE user_roles (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL,
  PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_role ON user_roles(role, user_id);

CREATE TABLE refresh_tokens (
  id TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  family_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  issued_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  used_at DATETIME,
  revoked_at DATETIME
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);

CREATE TABLE reset_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  used_at DATETIME
);
CREATE INDEX reset_tokens_user ON reset_tokens(user_id, created_at);
CREATE INDEX reset_tokens_expires ON reset_tokens(expires_at);

CREATE TABLE signing_keys (
  kid TEXT PRIMARY KEY,
  algorithm TEXT NOT NULL,
  private_key BLOB NOT NULL,
  sealing TEXT NOT NULL,
  public_key BLOB NOT NULL,
  created_at DATETIME NOT NULL,
  activates_at DATETIME NOT NULL,
  retires_at DATETIME
);

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE reset_tokens;
DROP TABLE refresh_tokens;
DROP TABLE user_roles;
DROP TABLE users;
