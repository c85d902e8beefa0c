-- +goose Up
CREATE TABLE IF NOT EXISTS specializations (
  id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  name        VARCHAR(100) NOT NULL,
  -- name_key is the lower-cased name compared byte for byte: names are unique
  -- regardless of case, but accents still count.
  name_key    VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  description VARCHAR(1000) NOT NULL DEFAULT '',
  version     BIGINT NOT NULL,
  created_at  DATETIME(6) NOT NULL,
  updated_at  DATETIME(6) NOT NULL,
  UNIQUE KEY specializations_name_key (name_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS doctors (
  id                  CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  user_id             CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
  first_name          VARCHAR(100) NOT NULL,
  last_name           VARCHAR(100) NOT NULL,
  email               VARCHAR(254) NOT NULL,
  phone               VARCHAR(20) NOT NULL DEFAULT '',
  license_number      VARCHAR(64) NOT NULL,
  bio                 TEXT NOT NULL,
  time_zone           VARCHAR(64) NOT NULL,
  appointment_minutes INT NOT NULL,
  active              TINYINT(1) NOT NULL,
  version             BIGINT NOT NULL,
  created_at          DATETIME(6) NOT NULL,
  updated_at          DATETIME(6) NOT NULL,
  UNIQUE KEY doctors_user_id (user_id),
  UNIQUE KEY doctors_license_number (license_number),
  -- Search walks active doctors in name order.
  KEY doctors_by_name (active, last_name, first_name, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every word of a doctor's first and last names, lower-cased, so that name
-- prefix searches are index range scans.
CREATE TABLE IF NOT EXISTS doctor_name_tokens (
  token     VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  doctor_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  PRIMARY KEY (token, doctor_id),
  KEY doctor_name_tokens_by_doctor (doctor_id),
  CONSTRAINT doctor_name_tokens_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The doctor's names are repeated in doctor_specializations and
-- doctor_languages so that a search filtered by either walks that index in
-- name order and stops after one page.
CREATE TABLE IF NOT EXISTS doctor_specializations (
  doctor_id         CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  specialization_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  last_name         VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
  first_name        VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
  PRIMARY KEY (doctor_id, specialization_id),
  KEY doctor_specializations_by_name (specialization_id, last_name, first_name, doctor_id),
  CONSTRAINT doctor_specializations_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE,
  CONSTRAINT doctor_specializations_specialization FOREIGN KEY (specialization_id) REFERENCES specializations (id) ON DELETE RESTRICT
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS doctor_languages (
  doctor_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  position  INT NOT NULL,
  language  VARCHAR(35) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
  last_name  VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
  first_name VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
  PRIMARY KEY (doctor_id, language),
  KEY doctor_languages_by_name (language, last_name, first_name, doctor_id),
  CONSTRAINT doctor_languages_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS availability (
  doctor_id      CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  slot_minutes   INT NOT NULL,
  buffer_minutes INT NOT NULL,
  -- Bit n set when weekday n (0 is Sunday) has weekly hours, for searches.
  weekly_days    TINYINT UNSIGNED NOT NULL DEFAULT 0,
  version        BIGINT NOT NULL,
  updated_at     DATETIME(6) NOT NULL,
  CONSTRAINT availability_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE
) ENGINE=InnoDB;

-- Minutes since local midnight in the doctor's time zone; weekday 0 is Sunday.
CREATE TABLE IF NOT EXISTS availability_weekly (
  doctor_id    CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  weekday      TINYINT NOT NULL,
  start_minute SMALLINT NOT NULL,
  end_minute   SMALLINT NOT NULL,
  PRIMARY KEY (doctor_id, weekday, start_minute),
  CONSTRAINT availability_weekly_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS availability_exceptions (
  doctor_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  day       CHAR(10) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  available TINYINT(1) NOT NULL,
  PRIMARY KEY (doctor_id, day),
  KEY availability_exceptions_by_day (day, available, doctor_id),
  CONSTRAINT availability_exceptions_doctor FOREIGN KEY (doctor_id) REFERENCES doctors (id) ON DELETE CASCADE
) ENGINE=InnoDB;

CREATE TABLE IF NOT EXISTS availability_exception_intervals (
  doctor_id    CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  day          CHAR(10) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  start_minute SMALLINT NOT NULL,
  end_minute   SMALLINT NOT NULL,
  PRIMARY KEY (doctor_id, day, start_minute),
  CONSTRAINT availability_exception_intervals_exception FOREIGN KEY (doctor_id, day)
    REFERENCES availability_exceptions (doctor_id, day) ON DELETE CASCADE
) ENGINE=InnoDB;

-- +goose Down
DROP TABLE availability_exception_intervals;
DROP TABLE availability_exceptions;
DROP TABLE availability_weekly;
DROP TABLE availability;
DROP TABLE doctor_languages;
DROP TABLE doctor_name_tokens;
DROP TABLE doctor_specializations;
DROP TABLE doctors;
DROP TABLE specializations;
