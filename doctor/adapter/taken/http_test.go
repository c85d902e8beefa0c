package taken

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service/takentest"
	"github.com/medisync/medisync/shared/authn"
)

// bookings is a stand-in of the appointment service's taken-times
// endpoint, answering what Book stored, as the real one answers.
type bookings struct {
	mu     sync.Mutex
	ranges map[string][]schedule.Range
	tokens []string
}

func (b *bookings) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = append(b.tokens, r.Header.Get("Authorization"))
	q := r.URL.Query()
	from, err1 := time.Parse(time.RFC3339, q.Get("from"))
	to, err2 := time.Parse(time.RFC3339, q.Get("to"))
	if r.URL.Path != "/api/v1/appointments/taken" || err1 != nil || err2 != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	type rng struct {
		Start time.Time `json:"start"`
		End   time.Time `json:"end"`
	}
	out := struct {
		Taken []rng `json:"taken"`
	}{Taken: []rng{}}
	for _, x := range b.ranges[q.Get("doctorId")] {
		if x.Start.Before(to) && x.End.After(from) {
			out.Taken = append(out.Taken, rng{x.Start, x.End})
		}
	}
	_ = json.NewEncoder(w).Encode(out)
}

func TestHTTPKeepsTheContract(t *testing.T) {
	takentest.Run(t, func(t *testing.T) takentest.Fixture {
		b := &bookings{ranges: map[string][]schedule.Range{}}
		srv := httptest.NewServer(b)
		t.Cleanup(srv.Close)
		return takentest.Fixture{
			Port: NewHTTP(srv.Client(), HTTPOptions{BaseURL: srv.URL}),
			Book: func(t *testing.T, doctorID string, r schedule.Range) {
				b.mu.Lock()
				defer b.mu.Unlock()
				b.ranges[doctorID] = append(b.ranges[doctorID], r)
			},
		}
	})
}

func TestHTTPCarriesTheCallersToken(t *testing.T) {
	b := &bookings{ranges: map[string][]schedule.Range{}}
	srv := httptest.NewServer(b)
	defer srv.Close()
	h := NewHTTP(srv.Client(), HTTPOptions{BaseURL: srv.URL})
	ctx := authn.WithToken(context.Background(), "tok-1")
	_, err := h.Taken(ctx, "d", time.Now(), time.Now().Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []string{"Bearer tok-1"}, b.tokens)
}

func TestHTTPFailsWhenTheServiceCannotAnswer(t *testing.T) {
	calls := 0
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	h := NewHTTP(srv.Client(), HTTPOptions{BaseURL: srv.URL, Failures: 3, OpenTimeout: time.Hour})
	for range 10 {
		_, err := h.Taken(context.Background(), "d", time.Now(), time.Now().Add(time.Hour))
		require.Error(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 3, calls, "the open breaker stops calling")

	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close()
	_, err := NewHTTP(http.DefaultClient, HTTPOptions{BaseURL: url}).Taken(context.Background(), "d", time.Now(), time.Now())
	require.Error(t, err, "an unreachable service is an error, never an empty answer")
}

func TestHTTPCallersThatHangUpDoNotOpenTheBreaker(t *testing.T) {
	b := &bookings{ranges: map[string][]schedule.Range{}}
	srv := httptest.NewServer(b)
	defer srv.Close()
	h := NewHTTP(srv.Client(), HTTPOptions{BaseURL: srv.URL, Failures: 2, OpenTimeout: time.Hour})
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	for range 5 {
		_, err := h.Taken(gone, "d", time.Now(), time.Now().Add(time.Hour))
		require.Error(t, err)
	}
	_, err := h.Taken(context.Background(), "d", time.Now(), time.Now().Add(time.Hour))
	require.NoError(t, err, "callers that went away are no failure of the appointment service")
}

func TestHTTPAHungServiceFailsWithinTheTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	h := NewHTTP(srv.Client(), HTTPOptions{BaseURL: srv.URL, Timeout: 50 * time.Millisecond})
	_, err := h.Taken(context.Background(), "d", time.Now(), time.Now().Add(time.Hour))
	require.Error(t, err, "a hung service is an error, never an empty answer")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
