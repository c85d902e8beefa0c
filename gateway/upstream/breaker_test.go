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

// An appointment service whose peer, doctor, is down answers bookings 503
// with Retry-After on every instance, and reads 200: the circuits open, and
// the reads still reach the service, sent past them.
func TestDependencyOutageLeavesTheServiceReachable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
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
	assert.Equal(t, gobreaker.StateOpen, p.States()[host])
	code, err := send(t, p, http.MethodGet)
	require.NoError(t, err, "a read the instance can serve still reaches it")
	assert.Equal(t, http.StatusOK, code)
}

// An instance that alone answers 503 with Retry-After (its own database is
// out of reach) leaves the rotation while its peers serve.
func TestInstanceThatAloneAnswers503IsSkipped(t *testing.T) {
	good, sick := newBackend(t), newBackend(t)
	sick.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		sick.hits.Add(1)
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	p, _ := newPool(t, newInstancer(good.hostport(), sick.hostport()), BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	waitSize(t, p, 2)
	for range 4 {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	require.Equal(t, gobreaker.StateOpen, p.States()[sick.hostport()])
	before := sick.hits.Load()
	for range 10 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, before, sick.hits.Load(), "the sick instance is skipped")
}

// A 503 from whatever stands in front of the instance counts, as 502 and
// 504 do.
func TestBare503OpensTheCircuit(t *testing.T) {
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
