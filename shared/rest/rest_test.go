package rest_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/rest"
)

// status is what a client would get for err.
func status(err error) int { return problem.From(err).Status }

func TestParseIfMatch(t *testing.T) {
	cases := []struct {
		in     string
		want   int64
		status int // 0: no error
	}{
		{"", 0, 0},
		{"*", 0, 0},
		{`"3"`, 3, 0},
		{` "3" `, 3, 0},
		{"3", 3, 0}, // bare versions from older clients
		{`"12345"`, 12345, 0},
		{`W/"3"`, 0, 412}, // RFC 9110: If-Match compares strongly; a weak tag never matches
		{`W/3`, 0, 400},
		{`W/`, 0, 400},
		{`W/*`, 0, 400},
		{`"0"`, 0, 400},
		{`"-1"`, 0, 400},
		{`"+1"`, 0, 400},
		{`"1e3"`, 0, 400},
		{`"3", "4"`, 0, 400},
		{`"abc"`, 0, 400},
		{`""`, 0, 400},
		{`"`, 0, 400},
		{`"99999999999999999999"`, 0, 400},
	}
	for _, c := range cases {
		got, err := rest.ParseIfMatch(c.in)
		if c.status == 0 {
			require.NoError(t, err, "%q", c.in)
			assert.Equal(t, c.want, got, "%q", c.in)
			continue
		}
		require.Error(t, err, "%q", c.in)
		assert.Equal(t, c.status, status(err), "%q", c.in)
		if c.status == 400 {
			assert.Equal(t, "If-Match", problem.From(err).Errors[0].Field, "%q", c.in)
		}
	}
}

// A weak tag is a version for the use case to refuse after the caller's
// rights; everything else reads as ParseIfMatch reads it.
func TestParseIfMatchVersion(t *testing.T) {
	v, err := rest.ParseIfMatchVersion(`W/"3"`)
	require.NoError(t, err)
	assert.Equal(t, domainerr.WeakVersion, v)
	assert.Equal(t, http.StatusPreconditionFailed, status(domainerr.StaleFor(v, domainerr.New(domainerr.Stale, "stale"))))
	assert.Equal(t, "stale", domainerr.StaleFor(2, domainerr.New(domainerr.Stale, "stale")).Error())
	for _, h := range []string{"", "*", `"3"`, "3", `W/3`, `W/*`, `"0"`, `"abc"`} {
		want, wantErr := rest.ParseIfMatch(h)
		got, err := rest.ParseIfMatchVersion(h)
		assert.Equal(t, want, got, "%q", h)
		assert.Equal(t, wantErr, err, "%q", h)
	}
}

func TestETagRoundTrip(t *testing.T) {
	v, err := rest.ParseIfMatch(rest.ETag(42))
	require.NoError(t, err)
	assert.Equal(t, int64(42), v)
}

func TestLimitAndCursor(t *testing.T) {
	cases := []struct {
		query  string
		limit  int
		status int
	}{
		{"", page.DefaultLimit, 0},
		{"limit=1", 1, 0},
		{"limit=100", 100, 0},
		{"limit=0", 0, 400},
		{"limit=101", 0, 400},
		{"limit=-1", 0, 400},
		{"limit=abc", 0, 400},
		{"limit=1.5", 0, 400},
		{"limit=", 0, 400},
		{"limit=5&limit=100000", 0, 400},
		{"limit=5&limit=5", 0, 400},
		{"cursor=x", page.DefaultLimit, 0},
	}
	for _, c := range cases {
		n, err := rest.Limit(httptest.NewRequest("GET", "/x?"+c.query, nil))
		if c.status == 0 {
			require.NoError(t, err, c.query)
			assert.Equal(t, c.limit, n, c.query)
			continue
		}
		p := problem.From(err)
		assert.Equal(t, c.status, p.Status, c.query)
		assert.Equal(t, "limit", p.Errors[0].Field, c.query)
	}

	long := make([]byte, page.MaxCursorLen+1)
	for i := range long {
		long[i] = 'A'
	}
	_, err := rest.Cursor(httptest.NewRequest("GET", "/x?cursor="+string(long), nil))
	assert.Equal(t, "cursor", problem.From(err).Errors[0].Field)
	_, err = rest.Cursor(httptest.NewRequest("GET", "/x?cursor=!!!", nil))
	assert.Equal(t, "cursor", problem.From(err).Errors[0].Field, "not base64url")
	_, err = rest.Cursor(httptest.NewRequest("GET", "/x?cursor=bm90IGpzb24", nil))
	assert.Equal(t, "cursor", problem.From(err).Errors[0].Field, "not JSON")
	ours := page.EncodeCursor([]string{"a"})
	c, err := rest.Cursor(httptest.NewRequest("GET", "/x?cursor="+ours, nil))
	require.NoError(t, err)
	assert.Equal(t, ours, c)
	for _, q := range []string{"cursor=&cursor=", "cursor=&cursor=bm90IGpzb24", "cursor=" + ours + "&cursor=" + ours} {
		_, err = rest.Cursor(httptest.NewRequest("GET", "/x?"+q, nil))
		p := problem.From(err)
		require.Len(t, p.Errors, 1, q)
		assert.Equal(t, "cursor", p.Errors[0].Field, q)
	}
	c, err = rest.Cursor(httptest.NewRequest("GET", "/x?limit=5", nil))
	require.NoError(t, err)
	assert.Empty(t, c, "no cursor is the first page")
}

// An empty cursor asks for the first page, as page.DecodeCursor("") reads
// it and as a client that sends ?cursor= with the nextCursor of the page
// before, none on the first, relies on.
func TestEmptyCursorIsTheFirstPage(t *testing.T) {
	c, err := rest.Cursor(httptest.NewRequest("GET", "/x?limit=2&cursor=", nil))
	require.NoError(t, err, "?cursor= is the first page")
	assert.Empty(t, c)
}

// A parameter that takes one value is refused, by name, when sent twice
// (the first alone would be read, and a value the service refuses pass
// behind one it takes) or with no value (which would read as absent);
// every such parameter is named at once.
func TestQueryTakesOneValueAParameter(t *testing.T) {
	q := rest.QueryOf(httptest.NewRequest("GET", "/x?status=sent&status=bogus&when=&date=2026-01-02&limit=5&days=1&days=1", nil))
	assert.Empty(t, q.Get("status"))
	assert.Empty(t, q.Get("when"))
	assert.Equal(t, "2026-01-02", q.Get("date"))
	assert.Empty(t, q.Get("doctorId"), "absent")
	assert.Empty(t, q.Get("days"))
	var fe domainerr.FieldErrors
	require.ErrorAs(t, q.Err(), &fe)
	assert.Equal(t, []domainerr.FieldError{
		{Field: "status", Message: "takes one value, and is sent more than once"},
		{Field: "when", Message: "is sent with no value; leave it out instead"},
		{Field: "days", Message: "takes one value, and is sent more than once"},
	}, []domainerr.FieldError(fe))
	assert.Equal(t, http.StatusBadRequest, status(q.Err()))

	q = rest.QueryOf(httptest.NewRequest("GET", "/x?q=Ada%20L&date=2026-01-02", nil))
	assert.Equal(t, "Ada L", q.Get("q"))
	assert.Equal(t, "2026-01-02", q.Get("date"))
	assert.NoError(t, q.Err())

	v, err := rest.Param(httptest.NewRequest("GET", "/x?unread=true", nil), "unread")
	require.NoError(t, err)
	assert.Equal(t, "true", v)
	_, err = rest.Param(httptest.NewRequest("GET", "/x?unread=", nil), "unread")
	assert.Equal(t, "unread", problem.From(err).Errors[0].Field)
}

// A free-form string whose document accepts it empty (Text) reads sent
// with no value as absent, no filter, as a search form sends an empty box;
// sent twice, it is refused all the same.
func TestQueryTextReadsEmptyAsAbsent(t *testing.T) {
	q := rest.QueryOf(httptest.NewRequest("GET", "/x?q=&email=a&email=b&language=en", nil))
	assert.Empty(t, q.Text("q"))
	assert.Empty(t, q.Text("email"))
	assert.Equal(t, "en", q.Text("language"))
	assert.Empty(t, q.Text("title"), "absent")
	var fe domainerr.FieldErrors
	require.ErrorAs(t, q.Err(), &fe)
	assert.Equal(t, []domainerr.FieldError{{Field: "email", Message: "takes one value, and is sent more than once"}}, []domainerr.FieldError(fe))

	v, err := rest.TextParam(httptest.NewRequest("GET", "/x?reason=", nil), "reason")
	require.NoError(t, err)
	assert.Empty(t, v)
	_, err = rest.TextParam(httptest.NewRequest("GET", "/x?reason=a&reason=", nil), "reason")
	assert.Equal(t, "reason", problem.From(err).Errors[0].Field)
}

func TestPathUUID(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"0190a5c4-7b1e-7cc3-8f00-000000000001", "0190a5c4-7b1e-7cc3-8f00-000000000001", true},
		{"0190A5C4-7B1E-7CC3-8F00-000000000001", "0190a5c4-7b1e-7cc3-8f00-000000000001", true},
		{"0190a5c47b1e7cc38f00000000000001", "", false},
		{"{0190a5c4-7b1e-7cc3-8f00-000000000001}", "", false},
		{"urn:uuid:0190a5c4-7b1e-7cc3-8f00-000000000001", "", false},
		{"nope", "", false},
		{"", "", false},
	}
	for _, c := range cases {
		r := mux.SetURLVars(httptest.NewRequest("GET", "/x", nil), map[string]string{"id": c.in})
		got, err := rest.PathUUID(r, "id")
		if c.ok {
			require.NoError(t, err, c.in)
			assert.Equal(t, c.want, got)
			continue
		}
		p := problem.From(err)
		assert.Equal(t, 400, p.Status, c.in)
		assert.Equal(t, []problem.FieldError{{Field: "id", Message: "must be a UUID"}}, p.Errors, c.in)
	}
}

func TestKindsMapToOneStatus(t *testing.T) {
	for k, want := range map[domainerr.Kind]int{
		domainerr.Invalid: 400, domainerr.Unauthenticated: 401, domainerr.Forbidden: 403, domainerr.NotFound: 404,
		domainerr.Conflict: 409, domainerr.Stale: 412, domainerr.PreconditionRequired: 428, domainerr.Unavailable: 503,
	} {
		p := problem.From(domainerr.New(k, "because"))
		assert.Equal(t, want, p.Status, k.Error())
		assert.Equal(t, "because", p.Detail)
	}
	assert.Equal(t, "2", problem.From(domainerr.New(domainerr.Unavailable, "x")).Headers.Get("Retry-After"))
	assert.NotEmpty(t, problem.From(domainerr.New(domainerr.Unauthenticated, "x")).Headers.Get("WWW-Authenticate"))
}

// FuzzParseIfMatch holds that any header gives a version, 0, or a 400/412.
func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{`"3"`, `W/"3"`, "*", "", `"3", "4"`, "3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, err := rest.ParseIfMatch(h)
		if err != nil {
			if st := status(err); st != 400 && st != 412 {
				t.Fatalf("status %d for %q", st, h)
			}
		} else if v < 0 {
			t.Fatalf("negative version for %q", h)
		}
		// The version form differs only in giving the weak tag's marker.
		w, werr := rest.ParseIfMatchVersion(h)
		if errors.Is(err, rest.ErrWeakIfMatch) {
			if w != domainerr.WeakVersion || werr != nil {
				t.Fatalf("weak %q read as %d, %v", h, w, werr)
			}
		} else if w != v || (werr == nil) != (err == nil) || err != nil && status(werr) != status(err) {
			t.Fatalf("%q read as %d, %v; ParseIfMatch %d, %v", h, w, werr, v, err)
		}
	})
}

func TestOpenAPI(t *testing.T) {
	rec := httptest.NewRecorder()
	rest.OpenAPI([]byte("openapi: 3.0.3\n")).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.yaml", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "application/yaml", rec.Header().Get("Content-Type"))
	assert.Equal(t, "public, max-age=300", rec.Header().Get("Cache-Control"))
	assert.Equal(t, "openapi: 3.0.3\n", rec.Body.String())
}
