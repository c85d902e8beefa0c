package problem_test

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/requestid"
)

var (
	errNotFound = errors.New("appointment not found")
	errTaken    = errors.New("slot already taken")
)

func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return body
}

func TestFromFindsProblemInChain(t *testing.T) {
	p := problem.Conflict("version mismatch")
	err := fmt.Errorf("update doctor: %w", fmt.Errorf("store: %w", p))

	got := problem.From(err, problem.Rules(problem.Rule{Target: errTaken, Status: http.StatusTeapot}))

	assert.Same(t, p, got)
	assert.Equal(t, http.StatusConflict, got.Status)
}

func TestFromFieldErrorsIsValidation(t *testing.T) {
	var fe problem.FieldErrors
	fe.Add("email", "must be an email address")
	fe.Add("birthDate", "must be in the past")
	err := fmt.Errorf("register: %w", fe.Err())

	got := problem.From(err)

	assert.Equal(t, http.StatusBadRequest, got.Status)
	assert.Equal(t, []problem.FieldError{
		{Field: "email", Message: "must be an email address"},
		{Field: "birthDate", Message: "must be in the past"},
	}, got.Errors)
}

func TestFieldErrors(t *testing.T) {
	var fe problem.FieldErrors
	assert.NoError(t, fe.Err())
	assert.Equal(t, "invalid input", fe.Error())

	fe.Add("name", "is required")
	assert.Equal(t, "invalid name: is required", fe.Error())
	fe.Add("email", "is required")
	fe.Add("phone", "is required")
	assert.Equal(t, "invalid name: is required (and 2 more)", fe.Error())
	assert.Error(t, fe.Err())
}

// An answer lists at most MaxFieldErrors field errors, the last saying how
// many more there were, whichever way the problem was made: from field
// errors added, which keep no more and count the rest, or from a list built
// by hand.
func TestAnswerListsAtMostMaxFieldErrors(t *testing.T) {
	var added problem.FieldErrors
	var built []problem.FieldError
	for i := range problem.MaxFieldErrors + 7 {
		added.Add(fmt.Sprintf("items[%d]", i), "is required")
		built = append(built, problem.FieldError{Field: fmt.Sprintf("items[%d]", i), Message: "is required"})
	}
	require.Len(t, added, problem.MaxFieldErrors)
	for _, p := range []*problem.Problem{problem.From(added), problem.BadRequest("bad", added...), {Status: 400, Errors: added}, {Status: 400, Errors: built}} {
		rec := httptest.NewRecorder()
		problem.Write(rec, nil, p)
		got := decodeProblem(t, rec)
		require.Len(t, got.Errors, problem.MaxFieldErrors)
		assert.Equal(t, built[:problem.MaxFieldErrors-1], got.Errors[:problem.MaxFieldErrors-1])
		assert.Equal(t, problem.FieldError{Field: "items[49]", Message: "is required (and 7 more errors, not listed)"},
			got.Errors[problem.MaxFieldErrors-1])
		assert.Equal(t, problem.MaxFieldErrors+7, problem.FieldErrors(p.Errors).Count(), "the problem itself is left as it was")
	}
	rec := httptest.NewRecorder()
	problem.Write(rec, nil, problem.From(problem.FieldErrors(built[:problem.MaxFieldErrors])))
	assert.Equal(t, built[:problem.MaxFieldErrors], decodeProblem(t, rec).Errors, "a list at the limit is whole")
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) problem.Problem {
	t.Helper()
	var p problem.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	return p
}

func TestRulesMapping(t *testing.T) {
	mapper := problem.Rules(
		problem.Rule{Target: errNotFound, Status: http.StatusNotFound},
		problem.Rule{Target: errTaken, Status: http.StatusConflict},
		problem.Rule{Target: errTaken, Status: http.StatusTeapot}, // never reached: first match wins
	)

	got := problem.From(fmt.Errorf("book: %w", errTaken), mapper)
	assert.Equal(t, http.StatusConflict, got.Status)
	assert.Equal(t, "Conflict", got.Title)
	assert.Equal(t, "book: slot already taken", got.Detail)

	got = problem.From(errNotFound, nil, mapper)
	assert.Equal(t, http.StatusNotFound, got.Status)

	assert.Nil(t, mapper(errors.New("other")))
}

func TestFromTriesMappersInOrder(t *testing.T) {
	first := problem.Rules(problem.Rule{Target: errTaken, Status: http.StatusConflict})
	second := problem.Rules(problem.Rule{Target: errTaken, Status: http.StatusTeapot})

	assert.Equal(t, http.StatusConflict, problem.From(errTaken, first, second).Status)
	assert.Equal(t, http.StatusTeapot, problem.From(errTaken, second, first).Status)
}

func TestFromUnknownErrorIs500WithoutCause(t *testing.T) {
	err := errors.New("dial tcp 10.0.0.7:3306: SELECT secret FROM users failed")

	got := problem.From(err)

	assert.Equal(t, http.StatusInternalServerError, got.Status)
	assert.NotContains(t, got.Detail, "SELECT")
	assert.NotContains(t, got.Detail, "10.0.0.7")

	rec := httptest.NewRecorder()
	problem.WriteError(rec, httptest.NewRequest(http.MethodGet, "/api/v1/x", nil), err)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "SELECT")
	assert.NotContains(t, rec.Body.String(), "10.0.0.7")
}

func TestFromDeadlineIs503(t *testing.T) {
	got := problem.From(fmt.Errorf("query: %w", context.DeadlineExceeded))
	assert.Equal(t, http.StatusServiceUnavailable, got.Status)
}

func TestWrite(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/patients?email=a@b.c", nil)
	req = req.WithContext(requestid.With(req.Context(), "req-42"))
	rec := httptest.NewRecorder()

	problem.Write(rec, req, problem.Validation(problem.FieldError{Field: "email", Message: "is required"}))

	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	body := decode(t, rec)
	assert.Equal(t, problem.TypeValidation, body["type"])
	assert.Equal(t, "Validation failed", body["title"])
	assert.EqualValues(t, 400, body["status"])
	assert.Equal(t, "/api/v1/patients", body["instance"], "the instance is the path without the query")
	assert.Equal(t, "req-42", body["requestId"])
	assert.Equal(t, []any{map[string]any{"field": "email", "message": "is required"}}, body["errors"])
}

func TestWriteKeepsExplicitInstanceAndDefaults(t *testing.T) {
	rec := httptest.NewRecorder()
	p := &problem.Problem{Status: http.StatusGone, Instance: "/elsewhere"}

	problem.Write(rec, httptest.NewRequest(http.MethodGet, "/here", nil), p)

	body := decode(t, rec)
	assert.Equal(t, http.StatusGone, rec.Code)
	assert.Equal(t, "about:blank", body["type"])
	assert.Equal(t, "Gone", body["title"])
	assert.Equal(t, "/elsewhere", body["instance"])
	assert.NotContains(t, body, "requestId", "no request ID in the context, none in the body")
	assert.NotContains(t, body, "errors")
	assert.Equal(t, &problem.Problem{Status: http.StatusGone, Instance: "/elsewhere"}, p, "Write must not change the problem")
}

func TestWriteExtraHeaders(t *testing.T) {
	tests := []struct {
		name   string
		p      *problem.Problem
		status int
		header string
		want   string
	}{
		{"retry after", problem.TooManyRequests("slow down", 7), http.StatusTooManyRequests, "Retry-After", "7"},
		{"retry after at least one second", problem.TooManyRequests("slow down", 0), http.StatusTooManyRequests, "Retry-After", "1"},
		{"www authenticate", problem.Unauthorized("missing token"), http.StatusUnauthorized, "WWW-Authenticate", `Bearer realm="medisync"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			problem.Write(rec, httptest.NewRequest(http.MethodGet, "/", nil), tc.p)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.want, rec.Header().Get(tc.header))
		})
	}
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		p      *problem.Problem
		status int
		typ    string
	}{
		{problem.BadRequest("bad"), http.StatusBadRequest, problem.TypeBlank},
		{problem.BadRequest("bad", problem.FieldError{Field: "f", Message: "m"}), http.StatusBadRequest, problem.TypeValidation},
		{problem.Validation(), http.StatusBadRequest, problem.TypeValidation},
		{problem.Unauthorized("who"), http.StatusUnauthorized, problem.TypeBlank},
		{problem.Forbidden("no"), http.StatusForbidden, problem.TypeBlank},
		{problem.NotFound("none"), http.StatusNotFound, problem.TypeBlank},
		{problem.Conflict("dup"), http.StatusConflict, problem.TypeConflict},
		{problem.PreconditionFailed("stale"), http.StatusPreconditionFailed, problem.TypeStaleVersion},
		{problem.New(http.StatusPreconditionRequired, "If-Match"), http.StatusPreconditionRequired, problem.TypePreconditionRequired},
		{problem.TooManyRequests("slow", 1), http.StatusTooManyRequests, problem.TypeRateLimited},
		{problem.Unavailable("down"), http.StatusServiceUnavailable, problem.TypeBlank},
		{problem.Internal(), http.StatusInternalServerError, problem.TypeBlank},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.status, tc.p.Status)
		assert.NotEmpty(t, tc.p.Title)
		assert.Equal(t, tc.typ, tc.p.Type, tc.p.Title)
	}
	assert.Equal(t, "Not Found: none", problem.NotFound("none").Error())
	assert.Equal(t, "Internal Server Error", (&problem.Problem{Title: "Internal Server Error"}).Error())
}

func TestErrorEncoderUsesContext(t *testing.T) {
	enc := problem.ErrorEncoder(problem.Rules(problem.Rule{Target: errNotFound, Status: http.StatusNotFound}))
	ctx := requestid.With(context.Background(), "abc-123")
	ctx = problem.PopulateInstance(ctx, httptest.NewRequest(http.MethodGet, "/api/v1/appointments/9?x=1", nil))
	rec := httptest.NewRecorder()

	enc(ctx, fmt.Errorf("get: %w", errNotFound), rec)

	assert.Equal(t, http.StatusNotFound, rec.Code)
	assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
	body := decode(t, rec)
	assert.Equal(t, "abc-123", body["requestId"])
	assert.Equal(t, "/api/v1/appointments/9", body["instance"])
	assert.Equal(t, "get: appointment not found", body["detail"])
}

func TestErrorEncoderDoesNotChangeSharedProblem(t *testing.T) {
	shared := problem.Forbidden("doctors only")
	enc := problem.ErrorEncoder()

	enc(requestid.With(context.Background(), "first"), shared, httptest.NewRecorder())
	rec := httptest.NewRecorder()
	enc(requestid.With(context.Background(), "second"), shared, rec)

	assert.Empty(t, shared.RequestID)
	assert.Empty(t, shared.Instance)
	assert.Equal(t, "second", decode(t, rec)["requestId"])
}

func TestErrorEncoderKeepsHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	problem.ErrorEncoder()(context.Background(), fmt.Errorf("auth: %w", problem.Unauthorized("expired")), rec)

	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, `Bearer realm="medisync"`, rec.Header().Get("WWW-Authenticate"))
}

func TestInstanceFromEmptyContext(t *testing.T) {
	assert.Empty(t, problem.InstanceFrom(context.Background()))
	assert.Equal(t, "/p", problem.InstanceFrom(problem.WithInstance(context.Background(), "/p")))
}

func TestWriteWithoutStatusIsInternalError(t *testing.T) {
	rec := httptest.NewRecorder()
	problem.Write(rec, httptest.NewRequest(http.MethodGet, "/x", nil), &problem.Problem{Title: "oops"})
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
}

func TestFromKindsCarryTheirTypes(t *testing.T) {
	for kind, typ := range map[domainerr.Kind]string{
		domainerr.Invalid:              problem.TypeBlank,
		domainerr.Forbidden:            problem.TypeBlank,
		domainerr.NotFound:             problem.TypeBlank,
		domainerr.Conflict:             problem.TypeConflict,
		domainerr.Stale:                problem.TypeStaleVersion,
		domainerr.PreconditionRequired: problem.TypePreconditionRequired,
		domainerr.Unavailable:          problem.TypeBlank,
	} {
		got := problem.From(fmt.Errorf("use case: %w", domainerr.New(kind, "msg")))
		assert.Equal(t, typ, got.Type, kind.Error())
	}
	got := problem.From(domainerr.Field("email", "is required"))
	assert.Equal(t, problem.TypeValidation, got.Type)
	assert.Equal(t, problem.ValidationTitle, got.Title)
}

// A connection that broke mid-query is a fault of the dependency, whatever
// the driver calls it: reset, or the MySQL driver's "invalid connection".
func TestBrokenConnectionsAre503(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("load patient: %w", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}),
		fmt.Errorf("load patient: %w", errors.New("invalid connection")),
		fmt.Errorf("commit: %w", driver.ErrBadConn),
	} {
		got := problem.From(err)
		assert.Equal(t, http.StatusServiceUnavailable, got.Status, err.Error())
		assert.Equal(t, "2", got.Headers.Get("Retry-After"))
	}
}

// A database that refuses writes for a while (a failover under way) is a
// fault that passes, on either server.
func TestReadOnlyDatabaseIs503(t *testing.T) {
	for _, err := range []error{
		fmt.Errorf("insert patient: %w", readOnly{}),
		fmt.Errorf("insert patient: %w", errors.New("Error 1290 (HY000): The MariaDB server is running with the --read-only option so it cannot execute this statement")),
	} {
		got := problem.From(err)
		assert.Equal(t, http.StatusServiceUnavailable, got.Status, err.Error())
		assert.Equal(t, "2", got.Headers.Get("Retry-After"))
	}
}

// readOnly is PostgreSQL's read_only_sql_transaction, told by SQLSTATE as
// pgconn.PgError tells it.
type readOnly struct{}

func (readOnly) Error() string    { return "cannot execute INSERT in a read-only transaction" }
func (readOnly) SQLState() string { return "25006" }

// A status outside 400-599 is no problem status: Write sends 500.
func TestWriteOfANonErrorStatusIsInternalError(t *testing.T) {
	for _, status := range []int{200, 399, 600, 999} {
		rec := httptest.NewRecorder()
		problem.Write(rec, httptest.NewRequest(http.MethodGet, "/x", nil), &problem.Problem{Status: status})
		assert.Equal(t, http.StatusInternalServerError, rec.Code, status)
		assert.EqualValues(t, 500, decode(t, rec)["status"], status)
	}
}

// An unauthenticated domain error is a 401 that names its scheme in
// WWW-Authenticate (RFC 9110, section 15.5.2), as problem.Unauthorized does.
func TestFromUnauthenticatedCarriesWWWAuthenticate(t *testing.T) {
	got := problem.From(fmt.Errorf("use case: %w", domainerr.New(domainerr.Unauthenticated, "sign in again")))
	assert.Equal(t, http.StatusUnauthorized, got.Status)
	assert.Equal(t, "sign in again", got.Detail)
	assert.Equal(t, `Bearer realm="medisync"`, got.Headers.Get("WWW-Authenticate"))
}
