-- +goose Up
CREATE TABLE IF NOT EXISTS users (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  -- Stored lower-cased and ASCII only, so a binary collation keeps
  -- uniqueness exact.
  email VARCHAR(254) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  full_name VARCHAR(200) NOT NULL,
  password_hash VARCHAR(255) CHARACTER SET ascii NOT NULL,
  disabled BOOLEAN NOT NULL DEFAULT FALSE,
  version INT NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  UNIQUE KEY users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS user_roles (
  user_id CHAR(36) CHARACTER SET ascii NOT NULL,
  role VARCHAR(16) CHARACTER SET ascii NOT NULL,
  PRIMARY KEY (user_id, role),
  KEY user_roles_role (role, user_id),
  CONSTRAINT user_roles_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS refresh_tokens (
  id CHAR(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  token_hash CHAR(64) CHARACTER SET ascii NOT NULL,
  family_id CHAR(36) CHARACTER SET ascii NOT NULL,
  user_id CHAR(36) CHARACTER SET ascii NOT NULL,
  issued_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  used_at DATETIME(6) NULL,
  revoked_at DATETIME(6) NULL,
  UNIQUE KEY refresh_tokens_hash (token_hash),
  KEY refresh_tokens_family (family_id),
  KEY refresh_tokens_user (user_id),
  KEY refresh_tokens_expires (expires_at),
  CONSTRAINT refresh_tokens_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS reset_tokens (
  token_hash CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  user_id CHAR(36) CHARACTER SET ascii NOT NULL,
  created_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  used_at DATETIME(6) NULL,
  KEY reset_tokens_user (user_id, created_at),
  KEY reset_tokens_expires (expires_at),
  CONSTRAINT reset_tokens_user FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS signing_keys (
  kid VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  algorithm VARCHAR(16) CHARACTER SET ascii NOT NULL,
  private_key VARBINARY(256) NOT NULL,
  sealing VARCHAR(32) CHARACTER SET ascii NOT NULL,
  public_key VARBINARY(64) NOT NULL,
  created_at DATETIME(6) NOT NULL,
  activates_at DATETIME(6) NOT NULL,
  retires_at DATETIME(6) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- +goose Down
DROP TABLE signing_keys;
DROP TABLE reset_tokens;
DROP TABLE refresh_tokens;
DROP TABLE user_roles;
DROP TABLE users;
