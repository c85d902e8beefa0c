package app_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/runtest"
)

func TestVersionPrintsTheBuildAndOpensNothing(t *testing.T) {
	var out bytes.Buffer
	// A database path that cannot be created: -version must not reach it.
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "missing", "deeper", "\x00.db")
	_, err := app.New(context.Background(), app.Options{Name: "widget", DefaultAddr: ":0", DefaultDSN: dsn},
		[]string{"-version"}, nil, &out)
	require.ErrorIs(t, err, app.ErrDone)
	assert.Regexp(t, `^widget dev \(commit \S+, built \S+, go1\.\S+\)\n$`, out.String())
	var msg bytes.Buffer
	assert.Equal(t, 0, app.ExitCode(&msg, "widget", err))
	assert.Empty(t, msg.String())
}

// serveHealth answers /health/ready with status on a loopback port and
// returns the -http-addr form of that port with a wildcard host.
func serveHealth(t *testing.T, status int) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	require.NoError(t, err)
	return ":" + port
}

func TestHealthcheckExitsZeroWhenReadyAndOneOtherwise(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   int
	}{{http.StatusOK, 0}, {http.StatusServiceUnavailable, 1}} {
		addr := serveHealth(t, tc.status)
		env := map[string]string{"MEDISYNC_HTTP_ADDR": addr}
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		_, err := app.New(context.Background(), app.Options{Name: "widget", DefaultAddr: ":1"},
			[]string{"-healthcheck"}, lookup, &bytes.Buffer{})
		require.Error(t, err)
		var msg bytes.Buffer
		assert.Equal(t, tc.code, app.ExitCode(&msg, "widget", err), "status %d", tc.status)
		if tc.code != 0 {
			assert.Contains(t, msg.String(), "not ready")
		}
	}
}

func TestHealthcheckFailsWhenNothingListens(t *testing.T) {
	err := app.Healthcheck(context.Background(), runtest.RefusedAddr(t))
	require.Error(t, err)
	assert.NotErrorIs(t, err, app.ErrDone)
	assert.Error(t, app.Healthcheck(context.Background(), "no-port"))
}

func TestModesComeFromTheCommandLineOnly(t *testing.T) {
	env := map[string]string{"MEDISYNC_HEALTHCHECK": "true", "MEDISYNC_VERSION": "true", "MEDISYNC_HTTP_ADDR": "127.0.0.1:0"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err := app.New(context.Background(), app.Options{Name: "widget", DefaultAddr: ":0"}, nil, lookup, &bytes.Buffer{})
	require.NoError(t, err, "a stray variable must not turn a service into a one-shot command")
	require.NoError(t, a.Close())
}

func TestBuildInfoMetricIsExported(t *testing.T) {
	env := map[string]string{"MEDISYNC_HTTP_ADDR": "127.0.0.1:0", "MEDISYNC_DISCOVERY_URLS": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err := app.New(context.Background(), app.Options{Name: "widget", DefaultAddr: ":0"}, nil, lookup, &bytes.Buffer{})
	require.NoError(t, err)
	defer a.Close()
	rec := httptest.NewRecorder()
	a.Router().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Regexp(t, `medisync_build_info\{commit="[^"]+",date="[^"]+",goversion="go[^"]+",version="dev"\} 1`, rec.Body.String())
}
