package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
)

// statusDiscovery records the statuses an instance sets.
type statusDiscovery struct {
	mu         sync.Mutex
	registered bool
	statuses   []string
}

func (f *statusDiscovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/status"):
		var b struct{ Status string }
		_ = json.NewDecoder(r.Body).Decode(&b)
		f.statuses = append(f.statuses, b.Status)
	case r.Method == http.MethodPut:
		_, _ = io.Copy(io.Discard, r.Body)
		f.registered = true
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"service":"x","index":1,"instances":[]}`))
}

func (f *statusDiscovery) seen() (bool, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.registered, append([]string(nil), f.statuses...)
}

// An instance whose readiness fails for a while (its database is down) is
// DOWN in discovery, so that the gateway stops sending it requests, and UP
// again once it is ready; one failed check changes nothing.
func TestReadinessIsReportedToDiscovery(t *testing.T) {
	disc := &statusDiscovery{}
	ds := httptest.NewServer(disc)
	defer ds.Close()
	env := map[string]string{"MEDISYNC_DISCOVERY_URLS": ds.URL, "MEDISYNC_HTTP_ADDR": "127.0.0.1:0"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const every = 10 * time.Millisecond
	a, err := app.New(ctx, app.Options{Name: "widget", DefaultAddr: ":0", ReadinessEvery: every}, nil, lookup, io.Discard)
	require.NoError(t, err)
	var failing atomic.Int32 // checks left to fail; below zero: all
	var checks atomic.Int32
	a.Health.Add("database", func(context.Context) error {
		checks.Add(1)
		n := failing.Load()
		if n == 0 {
			return nil
		}
		if n > 0 {
			failing.Add(-1)
		}
		return errors.New("down")
	})
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, a.Handler(a.Router())) }()
	require.Eventually(t, func() bool { ok, _ := disc.seen(); return ok }, 5*time.Second, every)

	// One failed check, then ten that pass: still UP, nothing reported.
	failing.Store(1)
	seen := checks.Load()
	require.Eventually(t, func() bool { return checks.Load() >= seen+11 }, 5*time.Second, every)
	_, statuses := disc.seen()
	assert.Empty(t, statuses, "one failed check is no reason to leave the pool")

	failing.Store(-1)
	require.Eventually(t, func() bool { _, s := disc.seen(); return len(s) == 1 }, 5*time.Second, every)
	_, statuses = disc.seen()
	assert.Equal(t, []string{"DOWN"}, statuses)

	failing.Store(0)
	require.Eventually(t, func() bool { _, s := disc.seen(); return len(s) == 2 }, 5*time.Second, every)
	_, statuses = disc.seen()
	assert.Equal(t, []string{"DOWN", "UP"}, statuses)

	cancel()
	require.NoError(t, <-done)
}
