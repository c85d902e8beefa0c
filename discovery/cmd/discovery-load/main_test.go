package main

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/wire"
)

func TestLoopbackOnly(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:8761", "http://localhost:1", "http://[::1]:8761", "http://127.5.0.1"} {
		assert.NoError(t, loopbackOnly(u), u)
	}
	for _, u := range []string{"http://10.0.0.1:8761", "http://192.168.1.2", "http://example.com", "http://0.0.0.0:1"} {
		assert.Error(t, loopbackOnly(u), u)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, 50*time.Millisecond, pct(d, 50))
	assert.Equal(t, 99*time.Millisecond, pct(d, 99))
	assert.Equal(t, 100*time.Millisecond, pct(d, 100))
	assert.Equal(t, time.Duration(0), pct(nil, 99))
}

// A short run against an in-process server goes through every phase with
// both APIs and reports no error; figures are not checked here.
func TestRunAgainstAServer(t *testing.T) {
	s, err := wire.New(wire.DefaultConfig(), []string{"-discovery-token", "load-token", "-eureka-warmup", "0"}, io.Discard)
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler)
	t.Cleanup(srv.Close)
	var out bytes.Buffer
	require.NoError(t, run(config{
		url: srv.URL, token: "load-token", instances: 200, services: 10, concurrency: 4,
		duration: 100 * time.Millisecond, rounds: 2, listSamples: 10, fetches: 2, watchRounds: 3,
	}, &out))
	for _, want := range []string{"half through each API", "heartbeats ", "eureka renewals ", "(errors 0;",
		"Eureka/own renewal rate", "full fetch (ours)   200 instances", "full fetch (Eureka) 200 instances"} {
		assert.Contains(t, out.String(), want)
	}
	assert.Equal(t, 2, strings.Count(out.String(), "(errors 0;"), "both renewal phases without error:\n%s", out.String())
	assert.Zero(t, s.Registry.Size(), "the run deregisters what it registered")
}
