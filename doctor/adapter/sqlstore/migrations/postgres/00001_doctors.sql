-- +goose Up
-- Names and licence numbers compare and sort regardless of case, as on
-- MariaDB (utf8mb4_unicode_ci) and SQLite (NOCASE), but in the language-
-- neutral Unicode order: accents still count for equality, and "Émile"
-- sorts beside "Emile". Nondeterministic collations serve unique indexes,
-- ORDER BY and keyset comparisons; LIKE is used only on lower-cased tokens.
CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE specializations (
  id          uuid PRIMARY KEY,
  name        varchar(100) NOT NULL,
  -- name_key is the lower-cased name compared byte for byte: names are unique
  -- regardless of case, but accents still count; the catalog is listed in its
  -- order on every database.
  name_key    varchar(100) COLLATE "C" NOT NULL CONSTRAINT specializations_name_key UNIQUE,
  description varchar(1000) NOT NULL DEFAULT '',
  version     bigint NOT NULL,
  created_at  timestamptz(6) NOT NULL,
  updated_at  timestamptz(6) NOT NULL
);

CREATE TABLE doctors (
  id                  uuid PRIMARY KEY,
  user_id             uuid CONSTRAINT doctors_user_id UNIQUE,
  first_name          varchar(100) COLLATE case_insensitive NOT NULL,
  last_name           varchar(100) COLLATE case_insensitive NOT NULL,
  email               varchar(254) NOT NULL,
  phone               varchar(20) NOT NULL DEFAULT '',
  license_number      varchar(64) COLLATE case_insensitive NOT NULL CONSTRAINT doctors_license_number UNIQUE,
  bio                 text NOT NULL DEFAULT '',
  time_zone           varchar(64) NOT NULL,
  appointment_minutes integer NOT NULL,
  active              boolean NOT NULL,
  version             bigint NOT NULL,
  created_at          timestamptz(6) NOT NULL,
  updated_at          timestamptz(6) NOT NULL
);
-- Search walks active doctors in name order.
CREATE INDEX doctors_by_name ON doctors (last_name, first_name, id) WHERE active;

-- Every word of a doctor's first and last names, lower-cased, so that name
-- prefix searches are index range scans: byte order ("C") lets LIKE 'abc%'
-- use the primary key.
CREATE TABLE doctor_name_tokens (
  token     varchar(100) COLLATE "C" NOT NULL,
  doctor_id uuid NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  PRIMARY KEY (token, doctor_id)
);
CREATE INDEX doctor_name_tokens_by_doctor ON doctor_name_tokens (doctor_id);

-- The doctor's names are repeated in doctor_specializations and
-- doctor_languages so that a search filtered by either walks that index in
-- name order and stops after one page.
CREATE TABLE doctor_specializations (
  doctor_id         uuid NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  specialization_id uuid NOT NULL REFERENCES specializations (id) ON DELETE RESTRICT,
  last_name         varchar(100) COLLATE case_insensitive NOT NULL,
  first_name        varchar(100) COLLATE case_insensitive NOT NULL,
  PRIMARY KEY (doctor_id, specialization_id)
);
CREATE INDEX doctor_specializations_by_name ON doctor_specializations (specialization_id, last_name, first_name, doctor_id);

CREATE TABLE doctor_languages (
  doctor_id  uuid NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  position   integer NOT NULL,
  language   varchar(35) COLLATE case_insensitive NOT NULL,
  last_name  varchar(100) COLLATE case_insensitive NOT NULL,
  first_name varchar(100) COLLATE case_insensitive NOT NULL,
  PRIMARY KEY (doctor_id, language)
);
CREATE INDEX doctor_languages_by_name ON doctor_languages (language, last_name, first_name, doctor_id);

CREATE TABLE availability (
  doctor_id      uuid PRIMARY KEY REFERENCES doctors (id) ON DELETE CASCADE,
  slot_minutes   integer NOT NULL,
  buffer_minutes integer NOT NULL,
  -- Bit n set when weekday n (0 is Sunday) has weekly hours, for searches.
  weekly_days    integer NOT NULL DEFAULT 0 CHECK (weekly_days BETWEEN 0 AND 127),
  version        bigint NOT NULL,
  updated_at     timestamptz(6) NOT NULL
);

-- Minutes since local midnight in the doctor's time zone; weekday 0 is Sunday.
CREATE TABLE availability_weekly (
  doctor_id    uuid NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  weekday      smallint NOT NULL CHECK (weekday BETWEEN 0 AND 6),
  start_minute smallint NOT NULL,
  end_minute   smallint NOT NULL,
  PRIMARY KEY (doctor_id, weekday, start_minute),
  CHECK (0 <= start_minute AND start_minute < end_minute AND end_minute <= 1440)
);

-- day is the doctor's local date, YYYY-MM-DD, as on the other databases.
CREATE TABLE availability_exceptions (
  doctor_id uuid NOT NULL REFERENCES doctors (id) ON DELETE CASCADE,
  day       char(10) COLLATE "C" NOT NULL,
  available boolean NOT NULL,
  PRIMARY KEY (doctor_id, day)
);
CREATE INDEX availability_exceptions_by_day ON availability_exceptions (day, available, doctor_id);

CREATE TABLE availability_exception_intervals (
  doctor_id    uuid NOT NULL,
  day          char(10) COLLATE "C" NOT NULL,
  start_minute smallint NOT NULL,
  end_minute   smallint NOT NULL,
  PRIMARY KEY (doctor_id, day, start_minute),
  CHECK (0 <= start_minute AND start_minute < end_minute AND end_minute <= 1440),
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
DROP COLLATION case_insensitive;
