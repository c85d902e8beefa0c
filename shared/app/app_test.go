package app_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
)

// fakeDiscovery records registry writes.
type fakeDiscovery struct {
	mu    sync.Mutex
	calls []string
}

func (f *fakeDiscovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"service":"x","index":1,"instances":[]}`))
}

func (f *fakeDiscovery) saw(prefix string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func TestAppLifecycle(t *testing.T) {
	disc := &fakeDiscovery{}
	ds := httptest.NewServer(disc)
	defer ds.Close()

	env := map[string]string{
		"MEDISYNC_DB_DSN":         "sqlite:" + filepath.Join(t.TempDir(), "svc.db"),
		"MEDISYNC_DISCOVERY_URLS": ds.URL,
		"MEDISYNC_HTTP_ADDR":      "127.0.0.1:0",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	a, err := appdb.New(ctx, app.Options{
		Name: "widget", DefaultAddr: ":0", DefaultDSN: "sqlite:unused.db",
		Migrations: os.DirFS("../sqldb/testdata/migrations"),
	}, nil, lookup, &logs)
	require.NoError(t, err)
	require.NotNil(t, a.DB)

	var n int
	require.NoError(t, a.DB.QueryRow("SELECT COUNT(*) FROM items").Scan(&n), "migrations applied")

	r := a.Router()
	r.HandleFunc("/api/v1/widgets", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("[]")) })
	h := a.Handler(r)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a.Config.HTTPAddr = ln.Addr().String()
	require.NoError(t, ln.Close())

	var started, drained atomic.Bool
	a.OnStarted(func(net.Addr) { started.Store(true) })
	a.OnDrain(func(context.Context) error { drained.Store(true); return nil })
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, h) }()
	base := "http://" + a.Config.HTTPAddr
	require.Eventually(t, func() bool {
		resp, err := http.Get(base + "/health/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 5*time.Second, 10*time.Millisecond)

	for _, p := range []string{"/metrics", "/health/live", "/api/v1/widgets"} {
		resp, err := http.Get(base + p)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, p)
	}
	resp, err := http.Get(base + "/nope")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	require.Eventually(t, func() bool { return disc.saw("PUT /api/v1/registry/widget/") }, 5*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assert.True(t, disc.saw("DELETE /api/v1/registry/widget/"), "deregistered on shutdown")
	assert.True(t, started.Load(), "started hook called")
	assert.True(t, drained.Load(), "drain hook called")
	assert.Error(t, a.DB.Ping(context.Background()), "database closed after drain")
}

func TestAppRejectsBadConfig(t *testing.T) {
	lookup := func(k string) (string, bool) {
		if k == "MEDISYNC_LOG_FORMAT" {
			return "xml", true
		}
		return "", false
	}
	_, err := app.New(context.Background(), app.Options{Name: "w", DefaultAddr: ":0"}, nil, lookup, &bytes.Buffer{})
	require.Error(t, err)

	_, err = appdb.New(context.Background(), app.Options{Name: "w", DefaultAddr: ":0", DefaultDSN: "sqlite:x"},
		[]string{"-db-dsn", "oracle://x"}, nil, &bytes.Buffer{})
	require.Error(t, err)
}

// A lease outside the range discovery servers grant would be refused on
// every registration while the instance served, ready and unreached: such a
// -discovery-ttl refuses to start, naming the flag and the range, unless
// nothing registers.
func TestDiscoveryTTLOutsideTheServersRangeRefusesToStart(t *testing.T) {
	opts := app.Options{Name: "w", DefaultAddr: ":0"}
	for _, ttl := range []string{"2s", "10m", "300.5s", "0s"} {
		_, err := app.New(context.Background(), opts, []string{"-discovery-ttl", ttl}, nil, &bytes.Buffer{})
		if assert.Error(t, err, ttl) {
			assert.Contains(t, err.Error(), "-discovery-ttl")
			assert.Contains(t, err.Error(), "between 5s and 5m0s")
		}
	}
	for _, ttl := range []string{"4.1s", "5s", "30s", "5m"} {
		a, err := app.New(context.Background(), opts, []string{"-discovery-ttl", ttl}, nil, &bytes.Buffer{})
		if assert.NoError(t, err, ttl) {
			require.NoError(t, a.Close())
		}
	}
	a, err := app.New(context.Background(), opts, []string{"-discovery-ttl", "1s", "-discovery-urls", ""}, nil, &bytes.Buffer{})
	require.NoError(t, err, "nothing registers")
	require.NoError(t, a.Close())
}

func TestVerifierNeedsASource(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Name: "w", DefaultAddr: ":0"}, []string{"-discovery-urls", ""}, nil, &bytes.Buffer{})
	require.NoError(t, err)
	_, err = a.Verifier(context.Background())
	require.Error(t, err)
}

func TestRunWithoutDiscoveryStopsCleanly(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // nothing answers there any more
	env := map[string]string{"MEDISYNC_DISCOVERY_URLS": dead.URL, "MEDISYNC_HTTP_ADDR": "127.0.0.1:0"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	var logs bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, app.Options{Name: "widget", DefaultAddr: ":0"}, nil, lookup, &logs)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, a.Handler(a.Router())) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	require.NoError(t, <-done, "an unreachable discovery server is no reason to fail the shutdown")
	assert.Contains(t, logs.String(), "deregistration failed")
}

func TestHelpPrintsUsageAndExitsZero(t *testing.T) {
	for _, arg := range []string{"-h", "-help"} {
		var out bytes.Buffer
		_, err := app.New(context.Background(), app.Options{Name: "widget", DefaultAddr: ":0"}, []string{arg}, nil, &out)
		require.Error(t, err)
		assert.Contains(t, out.String(), "-http-addr", arg)
		var msg bytes.Buffer
		assert.Equal(t, 0, app.ExitCode(&msg, "widget", err), arg)
		assert.Empty(t, msg.String(), arg)
	}
	var msg bytes.Buffer
	assert.Equal(t, 1, app.ExitCode(&msg, "widget", errors.New("configuration: bad")))
	assert.Equal(t, "widget: configuration: bad\n", msg.String())
	assert.Equal(t, 0, app.ExitCode(&msg, "widget", nil))
}

func TestRegistryNeitherRegistersNorResolves(t *testing.T) {
	env := map[string]string{"MEDISYNC_DISCOVERY_URLS": "http://127.0.0.1:1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err := app.New(context.Background(), app.Options{Name: "discovery", DefaultAddr: ":0", IsRegistry: true}, nil, lookup, io.Discard)
	require.NoError(t, err)
	defer a.Close()
	assert.Nil(t, a.Discovery)
}

func TestReadTimeoutBoundsReadingTheBody(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, app.Options{Name: "widget", DefaultAddr: ":0", ReadTimeout: 200 * time.Millisecond},
		[]string{"-discovery-urls", "", "-http-addr", "127.0.0.1:0"}, nil, io.Discard)
	require.NoError(t, err)
	addrc := make(chan net.Addr, 1)
	a.OnStarted(func(addr net.Addr) { addrc <- addr })
	readErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	})
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, h) }()
	addr := <-addrc

	// Promises 100 bytes, sends 10 and stalls: the configured timeout, not
	// the server's default of many seconds, ends the read.
	c, err := net.Dial("tcp", addr.String())
	require.NoError(t, err)
	defer c.Close()
	_, err = io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: widget\r\nContent-Length: 100\r\n\r\n0123456789")
	require.NoError(t, err)
	select {
	case err := <-readErr:
		require.Error(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the body's read outlived the configured read timeout")
	}
	cancel()
	require.NoError(t, <-done)
}
