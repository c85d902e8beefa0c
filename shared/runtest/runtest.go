// Package runtest starts a service's run function as its main does and waits until it is ready.
package runtest

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Service is a run function serving on a local address.
type Service struct {
	// URL is the base of every request, such as http://127.0.0.1:41234.
	URL    string
	cancel context.CancelFunc
	done   chan error
}

// FreeAddr returns a local address that nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// Start calls run with args and -http-addr set to a free address, and waits
// until /health/ready answers 200. It fails the test when run returns first
// or the service is not ready within 10 seconds.
func Start(t testing.TB, run func(ctx context.Context, args []string) error, args ...string) *Service {
	t.Helper()
	addr := FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Service{URL: "http://" + addr, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, append([]string{"-http-addr", addr}, args...)) }()
	t.Cleanup(cancel)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			t.Fatalf("run returned before the service was ready: %v", err)
		default:
		}
		if res, err := http.Get(s.URL + "/health/ready"); err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the service was not ready within 10s")
	return nil
}

// Stop cancels the service's context and checks that run returns without
// error within 20 seconds, as a graceful shutdown must.
func (s *Service) Stop(t testing.TB) {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
