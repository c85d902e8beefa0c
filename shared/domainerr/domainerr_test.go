package domainerr_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/domainerr"
)

func TestKinds(t *testing.T) {
	errGone := domainerr.New(domainerr.NotFound, "doctor not found")
	wrapped := fmt.Errorf("get doctor: %w", errGone)
	assert.ErrorIs(t, wrapped, domainerr.NotFound)
	assert.ErrorIs(t, wrapped, errGone)
	assert.NotErrorIs(t, wrapped, domainerr.Conflict)
	assert.Equal(t, domainerr.NotFound, domainerr.KindOf(wrapped))
	assert.Equal(t, domainerr.Invalid, domainerr.KindOf(domainerr.Field("x", "bad")))
	assert.Equal(t, domainerr.Kind(0), domainerr.KindOf(errors.New("disk on fire")))
}

func TestExpected(t *testing.T) {
	assert.True(t, domainerr.Expected(nil))
	assert.True(t, domainerr.Expected(domainerr.Field("limit", "too big")))
	assert.True(t, domainerr.Expected(fmt.Errorf("x: %w", domainerr.New(domainerr.Stale, "stale"))))
	assert.True(t, domainerr.Expected(context.Canceled), "a caller that left is not a fault")
	assert.False(t, domainerr.Expected(domainerr.New(domainerr.Unavailable, "db down")))
	assert.False(t, domainerr.Expected(errors.New("disk on fire")))
	assert.False(t, domainerr.Expected(context.DeadlineExceeded))
}

func TestFieldErrors(t *testing.T) {
	var fe domainerr.FieldErrors
	assert.NoError(t, fe.Err())
	fe.Add("a", "bad")
	fe.Add("b", "worse")
	assert.EqualError(t, fe.Err(), "invalid a: bad (and 1 more)")
}

// A body of many bad items costs no more memory than MaxFieldErrors of
// them: the first are kept, the rest only counted, and the count is kept
// when lists are joined.
func TestFieldErrorsKeepAtMostMaxAndCountTheRest(t *testing.T) {
	var fe domainerr.FieldErrors
	for i := range 96_000 {
		fe.Add(fmt.Sprintf("items[%d]", i%100), "is required")
	}
	assert.Len(t, fe, domainerr.MaxFieldErrors)
	assert.True(t, fe.Full())
	assert.Equal(t, 96_000, fe.Count())
	assert.Equal(t, "items[49]", fe[domainerr.MaxFieldErrors-1].Field)
	assert.EqualError(t, fe.Err(), "invalid items[0]: is required (and 95999 more)")

	joined := domainerr.Field("timeZone", "is the doctor's")
	joined = append(joined, fe...)
	assert.Equal(t, 96_001, joined.Count())
	joined.Add("x", "counted")
	assert.Equal(t, 96_002, joined.Count())
	assert.Len(t, joined, domainerr.MaxFieldErrors+1)
}

func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, err := range []error{
		domainerr.New(domainerr.Unavailable, "the peer cannot answer"),
		fmt.Errorf("claim: %w", context.DeadlineExceeded),
		fmt.Errorf("claim: %w", refused),
		fmt.Errorf("query: %w", driver.ErrBadConn),
		errors.New("invalid connection"),
		errors.New("Error 1053 (08S01): Server shutdown in progress"),
		fmt.Errorf("claim: %w", sqlState("57P03")),
		sqlState("08006"),
		fmt.Errorf("insert: %w", sqliteErr{"database is locked (5) (SQLITE_BUSY)", 5}),
		sqliteErr{"database is locked (517)", 517}, // SQLITE_BUSY_SNAPSHOT
		sqliteErr{"database table is locked (6)", 6},
		fmt.Errorf("book: %w", errors.New("Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction")),
		sqlState("55P03"),
		fmt.Errorf("insert: %w", sqlState("25006")),
		fmt.Errorf("commit: %w: %w", domainerr.ErrOutcomeUnknown, errors.New("conn closed")),
		errors.New("Error 1290 (HY000): The MariaDB server is running with the --read-only option so it cannot execute this statement"),
		errors.New("Error 1836 (HY000): Running in read-only mode"),
	} {
		assert.True(t, domainerr.Transient(err), "%v", err)
	}
	for _, err := range []error{nil, errors.New("syntax error"), domainerr.New(domainerr.NotFound, "no such record"), context.Canceled,
		sqlState("23505"), errors.New("Error 1062 (23000): Duplicate entry"),
		sqliteErr{"constraint failed: UNIQUE constraint failed: items.id (2067)", 2067},
		sqliteErr{"an error of another library whose code is 5", 5},
		errors.New("Error 1290 (HY000): The MariaDB server is running with the --secure-file-priv option so it cannot execute this statement")} {
		assert.False(t, domainerr.Transient(err), "%v", err)
	}
}

// sqlState is an error that tells its SQLSTATE, as PostgreSQL's do.
type sqlState string

func (s sqlState) Error() string    { return "SQLSTATE " + string(s) }
func (s sqlState) SQLState() string { return string(s) }

// sqliteErr is an error that tells its result code, as modernc.org/sqlite's
// do.
type sqliteErr struct {
	msg  string
	code int
}

func (e sqliteErr) Error() string { return e.msg }
func (e sqliteErr) Code() int     { return e.code }
