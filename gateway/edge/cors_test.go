package edge_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// headerList splits a comma-separated header list into lower-case names.
func headerList(v string) map[string]bool {
	out := map[string]bool{}
	for _, n := range strings.Split(v, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			out[n] = true
		}
	}
	return out
}

// A browser may send, and read, every header the services' OpenAPI documents
// name: a booking's Idempotency-Key (the guard against a retried POST booking
// twice), a document's Range and If-Range, an ADMIN's X-Access-Reason; and
// back Idempotent-Replayed, the ranges and file name of a download, and the
// WWW-Authenticate of a 401.
func TestCORSLetsBrowsersUseTheServicesHeaders(t *testing.T) {
	h := newHarness(t, options{origins: []string{"https://app.example"}})
	for _, c := range []struct {
		method, path string
		headers      []string
	}{
		{http.MethodPost, "/api/v1/appointments", []string{"authorization", "content-type", "idempotency-key"}},
		{http.MethodGet, documentsPath + "/x/content", []string{"authorization", "range", "if-range", "if-none-match", "x-access-reason"}},
	} {
		rec := h.do(req{method: http.MethodOptions, path: c.path, header: http.Header{
			"Origin":                         {"https://app.example"},
			"Access-Control-Request-Method":  {c.method},
			"Access-Control-Request-Headers": {strings.Join(c.headers, ",")},
		}})
		require.Equal(t, http.StatusNoContent, rec.Code, c.path)
		allowed := headerList(rec.Header().Get("Access-Control-Allow-Headers"))
		for _, name := range c.headers {
			assert.True(t, allowed[name], "%s %s: preflight allows %s", c.method, c.path, name)
		}
	}

	rec := h.do(req{path: "/api/v1/patients/me", token: h.token("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"),
		header: http.Header{"Origin": {"https://app.example"}}})
	exposed := headerList(rec.Header().Get("Access-Control-Expose-Headers"))
	for _, name := range []string{"ETag", "Location", "Retry-After", "RateLimit", "RateLimit-Policy", "X-Request-ID",
		"Idempotent-Replayed", "Content-Range", "Accept-Ranges", "Content-Disposition", "WWW-Authenticate"} {
		assert.True(t, exposed[strings.ToLower(name)], "exposes %s", name)
	}
}
