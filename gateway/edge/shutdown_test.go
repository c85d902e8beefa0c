package edge_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/shared/server"
)

// A document download still streaming when the gateway is told to stop
// finishes within a drain as long as the route's timeout (the gateway
// refuses a shorter one at start), scaled down: a 3 s route and drain, a
// download of about a second.
func TestDownloadInFlightAtShutdownFinishes(t *testing.T) {
	const size, chunks = 1 << 20, 16
	specs := route.Defaults()
	for i := range specs {
		if specs[i].Path == "/api/v1/records/patients/*/documents/**" {
			specs[i].Timeout = "3s"
		}
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "1048576")
		for range chunks {
			_, _ = io.WriteString(w, strings.Repeat("x", size/chunks))
			w.(http.Flusher).Flush()
			time.Sleep(60 * time.Millisecond)
		}
	}))
	t.Cleanup(up.Close)
	h := newHarness(t, options{specs: specs, instances: map[string][]string{"records": {strings.TrimPrefix(up.URL, "http://")}}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runner := &server.Runner{Server: server.NewHTTPServer("", h.handler), Listener: ln, ShutdownTimeout: 3 * time.Second}
	done := make(chan error, 1)
	go func() { done <- runner.Run(ctx) }()

	req, err := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+documentsPath+"/x/content", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+h.token("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	cancel() // the stop signal, with the download under way
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Len(t, b, size)
	assert.NoError(t, <-done)
}
