// Package domainerr is the error vocabulary every domain shares: field
// errors for invalid input and a small set of kinds (not found, forbidden,
// conflict, stale version, precondition required...) that transports map to
// statuses in one place; and it tells a fault that passes from a bug. It
// imports nothing outside the standard library and nothing that pulls in
// net/http, so domain packages may use it.
package domainerr

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
)

// Kind classifies a domain outcome. A Kind is itself an error so that
// errors.Is(err, domainerr.NotFound) reads naturally.
type Kind int

// The kinds of domain outcome. Each maps to one HTTP status in shared/problem
// (see docs/architecture.md, "Errors").
const (
	_                    Kind = iota
	Invalid                   // 400: the request is malformed or breaks a rule
	Unauthenticated           // 401: no or bad credentials
	Forbidden                 // 403: the caller lacks the right
	NotFound                  // 404: no such resource, or not the caller's to see
	Conflict                  // 409: the state forbids it (duplicate, illegal transition)
	Stale                     // 412: If-Match names a version that is no longer current
	PreconditionRequired      // 428: an update without If-Match
	Unavailable               // 503: a dependency cannot answer now; the only fault kind
)

var kindNames = [...]string{"", "invalid", "unauthenticated", "forbidden", "not found", "conflict",
	"stale version", "precondition required", "unavailable"}

func (k Kind) Error() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind " + strconv.Itoa(int(k))
}

// Error is a domain error of one kind with a message fit for clients.
type Error struct {
	Kind Kind
	Msg  string
}

// New returns a domain error of kind k; msg is shown to clients as is.
func New(k Kind, msg string) *Error { return &Error{Kind: k, Msg: msg} }

func (e *Error) Error() string { return e.Msg }

// Is makes errors.Is(err, k) true for the error's kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// KindOf returns the kind of the first domain error in err's chain: Invalid
// for field errors, 0 when err carries no kind.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	var k Kind
	if errors.As(err, &k) {
		return k
	}
	var fe FieldErrors
	if errors.As(err, &fe) {
		return Invalid
	}
	return 0
}

// Expected reports whether err is an answer to the caller rather than a fault
// of the service: nil, field errors, or a domain error of any kind but
// Unavailable, or the caller's own cancellation. Logging and instrumenting decorators use it, so that a 404
// is not counted or logged as a failure (docs/architecture.md, "Errors").
func Expected(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return true // a caller that went away is no fault of the service
	}
	k := KindOf(err)
	return k != 0 && k != Unavailable
}

// Unreachable reports a fault of the connection to a dependency (refused,
// reset, timed out, a pooled connection gone bad, a database going down or
// starting up, a commit whose answer was lost), as opposed to a bug.
func Unreachable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, ErrOutcomeUnknown) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	switch code := sqlState(err); {
	case strings.HasPrefix(code, "08"), // connection exception
		code == "57P01", code == "57P02", // the server ends the session: shutting down
		code == "57P03", // cannot connect now: starting up or shutting down
		code == "53300": // too many connections
		return true
	}
	msg := err.Error()
	// The MySQL driver's ErrInvalidConn, for a connection that broke
	// mid-query, and the server's own words for going down (1053), being
	// full (1040) or ending the session (1927), matched by their text for
	// the same reason.
	return strings.Contains(msg, "invalid connection") || strings.Contains(msg, "Error 1053 ") ||
		strings.Contains(msg, "Error 1040 ") || strings.Contains(msg, "Error 1927 ")
}

// Busy reports a database that other writers kept locked for longer than
// it waits: SQLite's SQLITE_BUSY or SQLITE_LOCKED after its busy timeout (a
// long write, a second process on the file, a checkpoint), MySQL's lock wait
// timeout (1205) or PostgreSQL's lock_not_available (55P03) once a store's
// own retries are spent. The work may succeed once the lock is released, as
// after any passing fault.
func Busy(err error) bool {
	if err == nil {
		return false
	}
	if sqlState(err) == "55P03" {
		return true
	}
	if strings.Contains(err.Error(), "Error 1205 ") {
		return true
	}
	// modernc.org/sqlite's *Error tells SQLite's result code by Code(),
	// matched by that method because this package must not link the
	// drivers; extended codes (SQLITE_BUSY_SNAPSHOT...) keep the primary
	// one in their low byte. The text ("database is locked", "database
	// table is locked") keeps another library's Code() int out.
	var se interface {
		error
		Code() int
	}
	if !errors.As(err, &se) {
		return false
	}
	const sqliteBusy, sqliteLocked = 5, 6
	code := se.Code() & 0xff
	return (code == sqliteBusy || code == sqliteLocked) && strings.Contains(se.Error(), "is locked")
}

// ReadOnly reports a database that takes reads but refuses writes for a
// while: during a failover the address still leads to the demoted primary,
// now a standby, until it moves to the new one. PostgreSQL says
// read_only_sql_transaction (25006), MariaDB and MySQL that they run with
// --read-only or --super-read-only (1290, which other options share, hence
// the text) or in read-only mode (1836), matched as in Unreachable. The
// stores open no read-only transaction to write in, so it is never the
// caller's own doing.
func ReadOnly(err error) bool {
	if err == nil {
		return false
	}
	if sqlState(err) == "25006" {
		return true
	}
	msg := err.Error()
	return (strings.Contains(msg, "Error 1290 ") && strings.Contains(msg, "read-only")) || strings.Contains(msg, "Error 1836 ")
}

// Transient reports whether err is a fault that passes, so that the same
// work may succeed later: of kind Unavailable, out of time, a dependency
// unreachable, a database busy or taking no writes for now.
func Transient(err error) bool {
	return err != nil && (KindOf(err) == Unavailable || errors.Is(err, context.DeadlineExceeded) || Unreachable(err) || Busy(err) ||
		ReadOnly(err))
}

// MaxFieldErrors is how many field errors FieldErrors keeps, and so an
// answer lists, at most; those beyond are only counted. A body of many bad
// items would otherwise cost memory, and an answer, many times its size.
const MaxFieldErrors = 50

// ErrOutcomeUnknown is in the chain of a write's error when the write may
// have been applied all the same: its commit reached the database and the
// answer never came back (the connection broke, or the time ran out while
// waiting). Only the database knows; work that undoes what a failed write
// leaves behind must leave it alone, for a row may name it.
var ErrOutcomeUnknown = errors.New("the database may have applied the write: its answer was lost")

// FieldError names one invalid field of a request and why it is invalid.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`

	// more counts the errors added after this one, the last kept, that were
	// not kept: FieldErrors must stay a slice, so the count lives here.
	more int
}

// FieldErrors is an error made of field errors; validation returns it.
type FieldErrors []FieldError

func (fe FieldErrors) Error() string {
	if len(fe) == 0 {
		return "invalid input"
	}
	msg := "invalid " + fe[0].Field + ": " + fe[0].Message
	if n := fe.Count(); n > 1 {
		msg += " (and " + strconv.Itoa(n-1) + " more)"
	}
	return msg
}

// Add appends a field error, or only counts it once MaxFieldErrors are
// kept.
func (fe *FieldErrors) Add(field, message string) {
	if fe.Full() {
		(*fe)[len(*fe)-1].more++
		return
	}
	*fe = append(*fe, FieldError{Field: field, Message: message})
}

// Full reports whether fe keeps no more errors, only counts them: a
// validator of many items may then spare building their names.
func (fe FieldErrors) Full() bool { return len(fe) >= MaxFieldErrors }

// Count is how many field errors were added, kept or only counted; it
// grows with every Add, so a validator can tell whether a part added any.
func (fe FieldErrors) Count() int {
	n := len(fe)
	for _, e := range fe {
		n += e.more
	}
	return n
}

// Err returns fe as an error, or nil when it is empty.
func (fe FieldErrors) Err() error {
	if len(fe) == 0 {
		return nil
	}
	return fe
}

// Field returns a one-field error.
func Field(field, message string) FieldErrors { return FieldErrors{{Field: field, Message: message}} }

// WeakVersion is the version a weak entity tag in If-Match stands for
// (rest.IfMatchVersion). Versions start at 1, so it matches none; the use
// case answers it as it answers a stale version, after the caller's rights
// are checked and a refusal recorded (docs/adr/0003).
const WeakVersion int64 = -1

// ErrWeakVersion is the answer to WeakVersion: RFC 9110 compares If-Match
// strongly, so a weak tag never matches.
var ErrWeakVersion = New(Stale, "If-Match compares entity tags strongly; a weak tag (W/) never matches")

// StaleFor is the answer to an If-Match version that is not the current
// one: ErrWeakVersion for WeakVersion, so that the client learns why its
// tag never matches, and stale otherwise.
func StaleFor(ifMatch int64, stale error) error {
	if ifMatch == WeakVersion {
		return ErrWeakVersion
	}
	return stale
}

// sqlState is the SQLSTATE err tells (PostgreSQL's errors, pgconn.PgError),
// or "": matched by that method because this package must not link the
// drivers (the gateway has no database).
func sqlState(err error) string {
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		return st.SQLState()
	}
	return ""
}
