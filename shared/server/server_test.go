package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/requestid"
	"github.com/medisync/medisync/shared/server"
)

// events records the order of shutdown steps, safely from any goroutine.
type events struct {
	mu   sync.Mutex
	list []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, s)
}

func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.list...)
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return ln
}

// freshClient opens a new connection per request, so a success proves the
// server still accepts connections.
func freshClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
}

func getBody(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func TestRunnerServesAndStopsOnCancel(t *testing.T) {
	ln := listen(t)
	srv := server.NewHTTPServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "pong")
	}))
	var started net.Addr
	r := &server.Runner{Server: srv, Listener: ln, Started: func(a net.Addr) { started = a }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	url := "http://" + ln.Addr().String() + "/"

	code, body, err := getBody(freshClient(), url)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "pong", body)

	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, ln.Addr(), started)
	_, _, err = getBody(freshClient(), url)
	assert.Error(t, err, "no connection is accepted once Run returns")
}

func TestRunnerListensOnServerAddr(t *testing.T) {
	srv := server.NewHTTPServer("127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	addrc := make(chan net.Addr, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&server.Runner{Server: srv, Started: func(a net.Addr) { addrc <- a }}).Run(ctx)
	}()
	addr := <-addrc

	code, _, err := getBody(freshClient(), "http://"+addr.String()+"/")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)

	cancel()
	require.NoError(t, <-done)
}

func TestRunnerListenError(t *testing.T) {
	ln := listen(t)
	defer ln.Close()
	srv := server.NewHTTPServer(ln.Addr().String(), http.NotFoundHandler())

	err := (&server.Runner{Server: srv}).Run(context.Background())

	require.Error(t, err)
	assert.Contains(t, err.Error(), ln.Addr().String())
}

func TestRunnerGracefulShutdownOrder(t *testing.T) {
	ev := &events{}
	inFlight := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(inFlight)
		<-release
		_, _ = io.WriteString(w, "slow done")
		ev.add("slow request finished")
	})
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "fast")
	})
	ln := listen(t)
	srv := server.NewHTTPServer("", mux)
	// Shutdown calls this as it starts: only then may the slow request end,
	// so the test proves the server waits for it.
	srv.RegisterOnShutdown(func() {
		ev.add("server stops accepting")
		close(release)
	})
	base := "http://" + ln.Addr().String()

	r := &server.Runner{
		Server:   srv,
		Listener: ln,
		BeforeDrain: []server.Hook{
			func(ctx context.Context) error {
				ev.add("before drain")
				code, body, err := getBody(freshClient(), base+"/fast")
				if err != nil || code != http.StatusOK || body != "fast" {
					ev.add("server refused a request before draining")
				}
				return nil
			},
			func(ctx context.Context) error { ev.add("before drain 2"); return nil },
		},
		AfterDrain: []server.Hook{
			func(ctx context.Context) error { ev.add("after drain"); return nil },
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		code, body, err := getBody(freshClient(), base+"/slow")
		slow <- result{code, body, err}
	}()
	<-inFlight

	cancel()

	require.NoError(t, <-done)
	res := <-slow
	require.NoError(t, res.err, "the in-flight request completes during shutdown")
	assert.Equal(t, http.StatusOK, res.code)
	assert.Equal(t, "slow done", res.body)
	assert.Equal(t, []string{
		"before drain",
		"before drain 2",
		"server stops accepting",
		"slow request finished",
		"after drain",
	}, ev.get())
}

func TestRunnerJoinsHookErrors(t *testing.T) {
	errDeregister := errors.New("deregister failed")
	errClose := errors.New("close db failed")
	var afterRan bool
	r := &server.Runner{
		Server:   server.NewHTTPServer("", http.NotFoundHandler()),
		Listener: listen(t),
		BeforeDrain: []server.Hook{
			func(context.Context) error { return errDeregister },
		},
		AfterDrain: []server.Hook{
			func(context.Context) error { return errClose },
			func(context.Context) error { afterRan = true; return nil },
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	err := r.Run(ctx)

	require.Error(t, err)
	assert.ErrorIs(t, err, errDeregister)
	assert.ErrorIs(t, err, errClose)
	assert.True(t, afterRan, "a failing hook does not stop the next ones")
}

func TestRunnerHooksGetABoundedContext(t *testing.T) {
	var deadline time.Time
	var ok bool
	r := &server.Runner{
		Server:          server.NewHTTPServer("", http.NotFoundHandler()),
		Listener:        listen(t),
		ShutdownTimeout: 3 * time.Second,
		AfterDrain: []server.Hook{func(ctx context.Context) error {
			deadline, ok = ctx.Deadline()
			return ctx.Err()
		}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := time.Now()

	require.NoError(t, r.Run(ctx), "hooks run with a live context although the run context is done")
	require.True(t, ok)
	assert.False(t, deadline.After(time.Now().Add(3*time.Second)))
	assert.False(t, deadline.Before(before))
}

// A hook stuck on a hung dependency, ignoring its context, is left behind
// when the budget is spent: the run returns, and the hooks after it still
// run, instead of the process outliving its shutdown timeout.
func TestRunnerLeavesAStuckHookAtTheBudget(t *testing.T) {
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	var nextRan bool
	r := &server.Runner{
		Server:          server.NewHTTPServer("", http.NotFoundHandler()),
		Listener:        listen(t),
		ShutdownTimeout: 300 * time.Millisecond,
		AfterDrain: []server.Hook{
			func(context.Context) error { <-stuck; return nil },
			func(context.Context) error { nextRan = true; return nil },
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()

	err := r.Run(ctx)

	assert.Less(t, time.Since(start), 2*time.Second, "the run waits for the stuck hook")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, nextRan, "the hooks after a stuck one run")
}

func TestRunnerServeFailureStillRunsHooks(t *testing.T) {
	ln := listen(t)
	require.NoError(t, ln.Close())
	var before, after bool
	r := &server.Runner{
		Server:      server.NewHTTPServer("", http.NotFoundHandler()),
		Listener:    ln,
		BeforeDrain: []server.Hook{func(context.Context) error { before = true; return nil }},
		AfterDrain:  []server.Hook{func(context.Context) error { after = true; return nil }},
	}

	err := r.Run(context.Background())

	require.Error(t, err)
	assert.Contains(t, err.Error(), "serve")
	assert.True(t, before)
	assert.True(t, after, "resources are released even when serving fails")
}

func TestNewHTTPServerTimeouts(t *testing.T) {
	h := http.NotFoundHandler()
	srv := server.NewHTTPServer(":8082", h)

	assert.Equal(t, ":8082", srv.Addr)
	assert.NotNil(t, srv.Handler)
	assert.Positive(t, srv.ReadHeaderTimeout)
	assert.Positive(t, srv.ReadTimeout)
	assert.Positive(t, srv.WriteTimeout)
	assert.Positive(t, srv.IdleTimeout)
	assert.Positive(t, srv.MaxHeaderBytes)
	assert.LessOrEqual(t, srv.ReadHeaderTimeout, srv.ReadTimeout)
}

func TestNewHTTPClientPassesRequestID(t *testing.T) {
	var got string
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get(requestid.Header)
	}))
	defer downstream.Close()
	client := server.NewHTTPClient(5 * time.Second)
	req, err := http.NewRequestWithContext(requestid.With(context.Background(), "rid-downstream"),
		http.MethodGet, downstream.URL+"/api/v1/doctors", nil)
	require.NoError(t, err)

	resp, err := client.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()

	assert.Equal(t, "rid-downstream", got)
	assert.Equal(t, 5*time.Second, client.Timeout)
}

func TestNewTransportTimeouts(t *testing.T) {
	tr := server.NewTransport()

	assert.Nil(t, tr.Proxy, "calls between services never go through a proxy from the environment")
	assert.NotNil(t, tr.DialContext)
	assert.Positive(t, tr.TLSHandshakeTimeout)
	assert.Positive(t, tr.ResponseHeaderTimeout)
	assert.Positive(t, tr.IdleConnTimeout)
	assert.Positive(t, tr.MaxIdleConnsPerHost)
}

func TestRunnerCutsOffRequestsPastTheDeadline(t *testing.T) {
	ln := listen(t)
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	srv := server.NewHTTPServer("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release // never finishes in time
	}))
	ev := &events{}
	ctx, cancel := context.WithCancel(context.Background())
	r := &server.Runner{Server: srv, Listener: ln, ShutdownTimeout: 50 * time.Millisecond,
		AfterDrain: []server.Hook{func(context.Context) error { ev.add("after"); return nil }}}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	clientErr := make(chan error, 1)
	go func() {
		_, _, err := getBody(freshClient(), "http://"+ln.Addr().String()+"/")
		clientErr <- err
	}()
	<-started
	cancel()
	err := <-done
	require.Error(t, err, "a drain past the deadline is reported")
	assert.Error(t, <-clientErr, "the stuck request's connection was closed before the after-drain hooks finished")
	assert.Equal(t, []string{"after"}, ev.get())
}
