package loadkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/loadkit"
)

// With LOADKIT_SERVE set, the test binary is a stand-in service: ready on
// that address until SIGTERM, then it exits with LOADKIT_EXIT.
func TestMain(m *testing.M) {
	if addr := os.Getenv("LOADKIT_SERVE"); addr != "" {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {})}
		go func() { _ = srv.ListenAndServe() }()
		<-term
		if os.Getenv("LOADKIT_EXIT") != "" {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

func service(addr string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{"LOADKIT_SERVE=" + addr}, env...)...)
	return cmd
}

func TestStartWaitsUntilReadyAndStopReportsTheExit(t *testing.T) {
	addr := freeAddr(t)
	p, err := loadkit.Start(context.Background(), "stand-in", service(addr), addr)
	require.NoError(t, err)
	assert.Positive(t, p.PID())
	res, err := http.Get("http://" + addr + "/health/ready")
	require.NoError(t, err, "ready once Start returns")
	_ = res.Body.Close()
	require.NoError(t, p.Stop(), "a clean shutdown")
	require.NoError(t, p.Stop(), "Stop may be called again")

	addr = freeAddr(t)
	p, err = loadkit.Start(context.Background(), "stand-in", service(addr, "LOADKIT_EXIT=1"), addr)
	require.NoError(t, err)
	var exit *exec.ExitError
	assert.ErrorAs(t, p.Stop(), &exit)
}

func TestStartRefusesATakenAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, err = loadkit.Start(context.Background(), "stand-in", service(ln.Addr().String()), ln.Addr().String())
	assert.ErrorContains(t, err, "is in use")
}

func TestStartNoticesAServiceThatExits(t *testing.T) {
	addr := freeAddr(t)
	_, err := loadkit.Start(context.Background(), "stand-in", exec.Command("false"), addr)
	assert.ErrorContains(t, err, "the stand-in service exited while starting")
}

func TestClientDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		_ = json.NewDecoder(r.Body).Decode(&in)
		w.Header().Set("ETag", `"1"`)
		if r.Header.Get("If-Match") == "stale" {
			w.WriteHeader(http.StatusPreconditionFailed)
			_, _ = w.Write([]byte("stale"))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"auth": r.Header.Get("Authorization"),
			"type": r.Header.Get("Content-Type"), "name": in["name"]})
	}))
	defer srv.Close()
	c := &loadkit.Client{Base: srv.URL, HTTP: srv.Client()}
	var out map[string]string
	h, err := c.Do(context.Background(), http.MethodPost, "/x", "tok", map[string]string{"name": "n"}, &out)
	require.NoError(t, err)
	assert.Equal(t, `"1"`, h.Get("ETag"))
	assert.Equal(t, map[string]string{"auth": "Bearer tok", "type": "application/json", "name": "n"}, out)

	_, err = c.Do(context.Background(), http.MethodPut, "/x", "tok", nil, nil, "If-Match", "stale")
	var se *loadkit.StatusError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, http.StatusPreconditionFailed, se.Status)
	assert.EqualError(t, err, "PUT /x: 412 stale")
}
