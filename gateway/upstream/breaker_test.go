package upstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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

// The failure ratio judges only the requests an instance answered or
// failed: those its clients abandoned (as they do on a sick, slow instance)
// count for nothing, neither towards the minimum nor in the ratio, so 12
// failures in 20 answers open the circuit whatever was abandoned besides.
func TestAbandonedRequestsDoNotDiluteTheFailureRatio(t *testing.T) {
	b := newBackend(t)
	var n atomic.Int64
	b.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Slow") != "" {
			<-r.Context().Done() // the client gives up first
			return
		}
		// 3 failures in every 5 answers, the 20th one of them: 60 %,
		// never 5 in a row.
		if k := n.Add(1) % 5; k == 0 || k == 1 || k == 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	p, _ := newPool(t, newInstancer(b.hostport()), BreakerSettings{ConsecutiveFailures: 100, MinRequests: 20, FailureRatio: 0.5, Interval: time.Minute})
	waitSize(t, p, 1)

	for range 20 {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel) // the client hangs up
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://patient/api/v1/patients/1", nil)
		require.NoError(t, err)
		req.Header.Set("X-Slow", "1")
		_, err = p.RoundTrip(req)
		cancel()
		require.Error(t, err)
	}
	failures := 0
	for range 20 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
		if code == http.StatusServiceUnavailable {
			failures++
		}
	}
	require.Equal(t, 12, failures)
	assert.Equal(t, gobreaker.StateOpen, p.States()[b.hostport()], "12 of 20 answers failed; %+v", p.Counts()[b.hostport()])
}

// A client that hangs up says nothing of the instance: however many do, in
// a row, the instance's circuit stays closed.
func TestClientsHangingUpDoNotOpenTheCircuit(t *testing.T) {
	b := newBackend(t)
	b.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	p, _ := newPool(t, newInstancer(b.hostport()), BreakerSettings{ConsecutiveFailures: 3, MinRequests: 3, FailureRatio: 0.5, Interval: time.Minute})
	waitSize(t, p, 1)

	for range 6 {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://patient/api/v1/patients/1", nil)
		require.NoError(t, err)
		_, err = p.RoundTrip(req)
		cancel()
		require.ErrorIs(t, err, context.Canceled)
	}
	assert.Equal(t, gobreaker.StateClosed, p.States()[b.hostport()], "%+v", p.Counts()[b.hostport()])
	assert.Zero(t, p.Counts()[b.hostport()].TotalFailures)
}
