-- +goose Up
CREATE TABLE specializations (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  -- name_key is the lower-cased name: names are unique regardless of case.
  name_key    TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  version     INTEGER NOT NULL,
  created_at  DATETIME NOT NULL,
  updated_at  DATETIME NOT NULL
);

CREATE TABLE doctors (
  id                  TEXT PRIMARY KEY,
  user_id             TEXT UNIQUE,
  first_name          TEXT NOT NULL COLLATE NOCASE,
  last_name           TEXT NOT NULL COLLATE NOCASE,
  email               TEXT NOT NULL,
  phone               TEXT NOT NULL DEFAULT '',
  license_number      TEXT NOT NULL COLLATE NOCASE UNIQUE,
  bio                 TEXT NOT NULL DEFAULT '',
  time_zone           TEXT NOT NULL,
  appointment_minutes INTEGER NOT NULL,
  active              INTEGER NOT NULL,
  version             INTEGER NOT NULL,
  created_at          DATETIME NOT NULL,
  updated_at          DATETIME NOT NULL
);
-- Search walks active doctors in name order.
CREATE INDEX doctors_by_name ON doctors (active, last_name, first_name, id);

-- Every word of a doctor's first and last names, lower-cased, so that name
-- prefix searches are index range scans.
CREATE TABLE doctor_name_tokens (
  token     TEXT NOT NULL,
  doctor_id TEXT NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  PRIMARY KEY (token, doctor_id)
);
CREATE INDEX doctor_name_tokens_by_doctor ON doctor_name_tokens (doctor_id);

-- The doctor's names are repeated in doctor_specializations and
-- doctor_languages so that a search filtered by either walks that index in
-- name order and stops after one page.
CREATE TABLE doctor_specializations (
  doctor_id         TEXT NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  specialization_id TEXT NOT NULL REFERENCES specializations (id) ON DELETE RESTRICT,
  last_name         TEXT NOT NULL COLLATE NOCASE,
  first_name        TEXT NOT NULL COLLATE NOCASE,
  PRIMARY KEY (doctor_id, specialization_id)
);
CREATE INDEX doctor_specializations_by_name ON doctor_specializations (specialization_id, last_name, first_name, doctor_id);

CREATE TABLE doctor_languages (
  doctor_id  TEXT NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  language   TEXT NOT NULL,
  last_name  TEXT NOT NULL COLLATE NOCASE,
  first_name TEXT NOT NULL COLLATE NOCASE,
  PRIMARY KEY (doctor_id, language)
);
CREATE INDEX doctor_languages_by_name ON doctor_languages (language, last_name, first_name, doctor_id);

CREATE TABLE availability (
  doctor_id      TEXT PRIMARY KEY REFERENCES doctors (id) ON DELETE CASCADE,
  slot_minutes   INTEGER NOT NULL,
  buffer_minutes INTEGER NOT NULL,
  -- Bit n set when weekday n (0 is Sunday) has weekly hours, for searches.
  weekly_days    INTEGER NOT NULL DEFAULT 0,
  version        INTEGER NOT NULL,
  updated_at     DATETIME NOT NULL
);

-- Minutes since local midnight in the doctor's time zone; weekday 0 is Sunday.
CREATE TABLE availability_weekly (
  doctor_id    TEXT NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  weekday      INTEGER NOT NULL,
  start_minute INTEGER NOT NULL,
  end_minute   INTEGER NOT NULL,
  PRIMARY KEY (doctor_id, weekday, start_minute)
);

CREATE TABLE availability_exceptions (
  doctor_id TEXT NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  day       TEXT NOT NULL,
  available INTEGER NOT NULL,
  PRIMARY KEY (doctor_id, day)
);
CREATE INDEX availability_exceptions_by_day ON availability_exceptions (day, available, doctor_id);

CREATE TABLE availability_exception_intervals (
  doctor_id    TEXT NOT NULL,
  day          TEXT NOT NULL,
  start_minute INTEGER NOT NULL,
  end_minute   INTEGER NOT NULL,
  PRIMARY KEY (doctor_id, day, start_minute),
  FOREIGN KEY (doctor_id, day) REFERENCES availability_exceptions (doctor_id, day) ON DELETE CASCADE
);

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
