package upstream

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An appointment instance that is healthy itself answers 503 with
// Retry-After (problem.Unavailable) to bookings while its peer, doctor, is
// down, and 200 to reads that need no peer: those 503s must not open its
// circuit, or one peer's outage becomes the whole service's.
func TestDependency503FromTheInstanceDoesNotOpenItsCircuit(t *testing.T) {
	for name, answer := range map[string]func(http.ResponseWriter){
		"retry-after": func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
		},
		"problem": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/problem+json; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"type":"about:blank","title":"Service Unavailable","status":503}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPost {
					answer(w)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			p, _ := newPool(t, newInstancer(host), BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
			waitSize(t, p, 1)
			for range 5 {
				code, err := send(t, p, http.MethodPost)
				require.NoError(t, err)
				assert.Equal(t, http.StatusServiceUnavailable, code, "the instance's answer passes through")
			}
			assert.Equal(t, gobreaker.StateClosed, p.States()[host])
			code, err := send(t, p, http.MethodGet)
			require.NoError(t, err, "a read the instance can serve still reaches it")
			assert.Equal(t, http.StatusOK, code)
		})
	}
}

// A 503 with neither Retry-After nor a problem body comes from something in
// front of the instance (a proxy with no backend), not from the service: it
// still counts, as 502 and 504 do.
func TestBare503StillOpensTheCircuit(t *testing.T) {
	b := newBackend(t)
	b.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("<html>no healthy upstream</html>"))
	})
	p, _ := newPool(t, newInstancer(b.hostport()), BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	waitSize(t, p, 1)
	for range 2 {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	assert.Equal(t, gobreaker.StateOpen, p.States()[b.hostport()])
}
