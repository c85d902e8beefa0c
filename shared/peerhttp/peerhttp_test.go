package peerhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/peerhttp"
)

type answer struct {
	ID string `json:"id"`
}

// peer answers status with body and counts the calls.
func peer(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32, *atomic.Value) {
	t.Helper()
	var calls atomic.Int32
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		auth.Store(r.Header.Get("Authorization"))
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, &auth
}

func TestGetJSONOnTheCallersBehalf(t *testing.T) {
	srv, _, auth := peer(t, http.StatusOK, `{"id":"d1"}`)
	c := peerhttp.New(srv.Client(), "doctor", peerhttp.Options{BaseURL: srv.URL})
	var got answer
	require.NoError(t, c.GetJSON(authn.WithToken(context.Background(), "tok"), "/x", &got))
	assert.Equal(t, answer{ID: "d1"}, got)
	assert.Equal(t, "Bearer tok", auth.Load())
}

func TestAnswersTheCallerCausedAreNoFault(t *testing.T) {
	srv, calls, _ := peer(t, http.StatusNotFound, "")
	c := peerhttp.New(srv.Client(), "doctor", peerhttp.Options{BaseURL: srv.URL, Failures: 2, OpenTimeout: time.Hour})
	for range 4 {
		err := c.GetJSON(context.Background(), "/x", &answer{})
		assert.Equal(t, http.StatusNotFound, peerhttp.Status(err))
		assert.False(t, peerhttp.Down(err), "%v", err)
		assert.EqualError(t, err, "doctor service answered 404")
	}
	assert.EqualValues(t, 4, calls.Load(), "a 4xx does not open the breaker")
}

func TestFaultsOpenTheBreaker(t *testing.T) {
	for name, tc := range map[string]struct {
		status int
		body   string
	}{
		"5xx":          {http.StatusBadGateway, ""},
		"500":          {http.StatusInternalServerError, ""},
		"429":          {http.StatusTooManyRequests, ""},
		"not JSON":     {http.StatusOK, "<html>"},
		"over MaxBody": {http.StatusOK, `{"id":"` + strings.Repeat("x", 100) + `"}`},
	} {
		t.Run(name, func(t *testing.T) {
			srv, calls, _ := peer(t, tc.status, tc.body)
			c := peerhttp.New(srv.Client(), "doctor", peerhttp.Options{BaseURL: srv.URL, Failures: 2, OpenTimeout: time.Hour, MaxBody: 64})
			for range 5 {
				err := c.GetJSON(context.Background(), "/x", &answer{})
				assert.True(t, peerhttp.Down(err), "%v", err)
				assert.Zero(t, peerhttp.Status(err))
			}
			assert.EqualValues(t, 2, calls.Load(), "the open breaker stops calling")
		})
	}
}

func TestAnUnreachablePeerIsDown(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	err := peerhttp.New(http.DefaultClient, "doctor", peerhttp.Options{BaseURL: dead.URL}).GetJSON(context.Background(), "/x", &answer{})
	assert.True(t, peerhttp.Down(err), "%v", err)
}

// The error of a call that got no answer is logged: it names the method,
// the peer and the path, never the query string, which may hold a doctor's
// id and the times of a patient's visit.
func TestAnUnansweredCallsErrorHoldsNoQueryString(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	err := peerhttp.New(http.DefaultClient, "doctor", peerhttp.Options{BaseURL: dead.URL}).
		GetJSON(context.Background(), "/api/v1/doctors/d1/slot-check?start=2030-01-20T14%3A30%3A00Z", &answer{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GET doctor /api/v1/doctors/d1/slot-check: ")
	assert.NotContains(t, err.Error(), "start=")
	assert.NotContains(t, err.Error(), "2030")
	assert.True(t, peerhttp.Down(err), "%v", err)
}

func TestAHungPeerFailsWithinTheTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := peerhttp.New(srv.Client(), "doctor", peerhttp.Options{BaseURL: srv.URL, Timeout: 50 * time.Millisecond})
	err := c.GetJSON(context.Background(), "/x", &answer{})
	assert.True(t, peerhttp.Down(err), "%v", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestCallersThatHangUpDoNotOpenTheBreaker(t *testing.T) {
	srv, _, _ := peer(t, http.StatusOK, `{"id":"p1"}`)
	c := peerhttp.New(srv.Client(), "patient", peerhttp.Options{BaseURL: srv.URL, Failures: 2, OpenTimeout: time.Hour})
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		err := c.GetJSON(gone, "/x", &answer{})
		require.Error(t, err)
		assert.False(t, peerhttp.Down(err), "%v", err)
	}
	// Nor do callers whose own deadline has passed.
	late, cancelLate := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancelLate()
	for range 5 {
		err := c.GetJSON(late, "/x", &answer{})
		require.Error(t, err)
		assert.False(t, peerhttp.Down(err), "%v", err)
	}
	var got answer
	require.NoError(t, c.GetJSON(context.Background(), "/x", &got), "callers that went away are no failure of the peer")
	assert.Equal(t, "p1", got.ID)
}

// Callers that hang up while the peer's answer is still arriving (a long
// list streamed slowly, a busy peer) are no failure of the peer either: five
// of them must not open the breaker for every other caller.
func TestCallersThatHangUpMidAnswerDoNotOpenTheBreaker(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"id":`))
		w.(http.Flusher).Flush()
		select { // the rest of the answer is slow to come
		case <-r.Context().Done():
			return
		case <-release:
		}
		_, _ = w.Write([]byte(`"p1"}`))
	}))
	defer srv.Close()
	c := peerhttp.New(srv.Client(), "patient", peerhttp.Options{BaseURL: srv.URL, Failures: 2, OpenTimeout: time.Hour})
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond) // the caller gives up
		err := c.GetJSON(ctx, "/x", &answer{})
		cancel()
		require.Error(t, err)
		assert.False(t, peerhttp.Down(err), "a caller that went away counted as a peer fault: %v", err)
	}
	close(release)
	var got answer
	require.NoError(t, c.GetJSON(context.Background(), "/x", &got), "callers that went away opened the breaker for everyone")
}
