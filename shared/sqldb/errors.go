package sqldb

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The error classifiers give a driver error one domain meaning whatever the
// dialect, so stores test what happened, never a driver's code.

// PostgreSQL SQLSTATE codes (Appendix A of its manual).
const (
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgExclusionViolation   = "23P01"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

func pgCode(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, true
	}
	return "", false
}

// IsUniqueViolation reports whether err is a unique or primary key violation.
func IsUniqueViolation(err error) bool {
	if code, ok := pgCode(err); ok {
		return code == pgUniqueViolation
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// IsForeignKeyViolation reports whether err is a foreign key violation: a
// missing parent, or a parent still referenced.
func IsForeignKeyViolation(err error) bool {
	if code, ok := pgCode(err); ok {
		return code == pgForeignKeyViolation
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1451 || me.Number == 1452
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// An ON DELETE RESTRICT action reports a trigger constraint with the
		// foreign key message, not the foreign key code.
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY ||
			(se.Code() == sqlite3.SQLITE_CONSTRAINT_TRIGGER && strings.Contains(se.Error(), "FOREIGN KEY"))
	}
	return false
}

// IsExclusionViolation reports whether err is a PostgreSQL exclusion
// constraint violation (EXCLUDE USING gist ..., e.g. overlapping ranges).
// MySQL and SQLite have no exclusion constraints, so it is false for them.
func IsExclusionViolation(err error) bool {
	code, ok := pgCode(err)
	return ok && code == pgExclusionViolation
}

// IsRetryable reports whether err aborted a transaction only because of
// concurrent ones, so that running the whole transaction again may succeed:
// a serialization failure or deadlock (PostgreSQL), a deadlock or lock wait
// timeout (MySQL), a busy database (SQLite).
func IsRetryable(err error) bool {
	if code, ok := pgCode(err); ok {
		return code == pgSerializationFailure || code == pgDeadlockDetected
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213 || me.Number == 1205
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// Extended codes (SQLITE_BUSY_SNAPSHOT...) keep the primary code in
		// their low byte.
		return se.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return false
}
