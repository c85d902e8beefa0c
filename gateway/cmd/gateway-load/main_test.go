package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeService answers the setup calls and the measured GET.
func fakeService(t *testing.T, hits *atomic.Int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/auth/register":
			w.WriteHeader(http.StatusAccepted) // as auth answers it
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/auth/login":
			_, _ = io.WriteString(w, `{"accessToken":"tok"}`)
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/patients":
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"p1"}`)
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/patients/p1" && r.Header.Get("Authorization") == "Bearer tok":
			hits.Add(1)
			_, _ = io.WriteString(w, `{}`)
		default:
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRunMeasuresBothTargets(t *testing.T) {
	var gwHits, directHits atomic.Int64
	gw, direct := fakeService(t, &gwHits), fakeService(t, &directHits)
	out := filepath.Join(t.TempDir(), "figures.json")
	var log strings.Builder
	err := run(context.Background(), options{
		gateway: gw.URL, direct: direct.URL, setup: true, saturation: true,
		concurrency: 2, duration: 50 * time.Millisecond, warmup: 10 * time.Millisecond,
		rate: 200, rateDuration: 50 * time.Millisecond, rounds: 2, jsonOut: out,
	}, &log)
	require.NoError(t, err, log.String())
	assert.Positive(t, gwHits.Load())
	assert.Positive(t, directHits.Load())
	assert.Contains(t, log.String(), "added by the gateway")

	var rep Report
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &rep))
	assert.Equal(t, "/api/v1/patients/p1", rep.Path)
	assert.Positive(t, rep.Direct.SaturationRPS)
	assert.Positive(t, rep.Gateway.P50ms)
	assert.Zero(t, rep.Gateway.Errors)
}

func TestRunFailsOnErrors(t *testing.T) {
	var hits atomic.Int64
	srv := fakeService(t, &hits)
	err := run(context.Background(), options{gateway: srv.URL, direct: srv.URL, path: "/nowhere", token: "tok",
		concurrency: 1, duration: 10 * time.Millisecond, warmup: time.Millisecond, rate: 100, rateDuration: 10 * time.Millisecond, rounds: 1}, io.Discard)
	assert.Error(t, err)
}

func TestMedian(t *testing.T) {
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
	assert.Zero(t, median(nil))
}
