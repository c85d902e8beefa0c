package edge_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/ratelimit"
	"github.com/medisync/medisync/gateway/route"
)

// readDeadlineHarness serves the gateway with a server ReadTimeout far below
// the documents route's timeout, and a short login route.
func readDeadlineHarness(t *testing.T, readTimeout time.Duration) (*harness, *uploadSink, *httptest.Server) {
	specs := route.Defaults()
	for i := range specs {
		switch specs[i].Path {
		case "/api/v1/records/patients/*/documents/**":
			specs[i].Timeout = "3s"
		case "/api/v1/auth/login":
			specs[i].Timeout = "300ms"
		}
	}
	sink := newUploadSink(t)
	h := newHarness(t, options{
		specs:     specs,
		strict:    ratelimit.Policy{Name: "strict", RPS: 100, Burst: 100},
		instances: map[string][]string{"records": {strings.TrimPrefix(sink.URL, "http://")}},
	})
	srv := httptest.NewUnstartedServer(h.handler)
	srv.Config.ReadTimeout = readTimeout
	srv.Start()
	t.Cleanup(srv.Close)
	return h, sink, srv
}

// trickle writes n chunks of size bytes, pause apart, then closes pw.
func trickle(pw *io.PipeWriter, n, size int, pause time.Duration) {
	chunk := []byte(strings.Repeat("d", size))
	for i := 0; i < n; i++ {
		if i > 0 {
			time.Sleep(pause)
		}
		if _, err := pw.Write(chunk); err != nil {
			pw.CloseWithError(err)
			return
		}
	}
	_ = pw.Close()
}

func TestLongRouteReadsASlowBodyPastTheServerReadTimeout(t *testing.T) {
	h, sink, srv := readDeadlineHarness(t, 300*time.Millisecond)
	tok := h.token("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee")

	// About a second to send, well past the server's 300 ms read timeout and
	// well within the route's 3 s.
	const chunks, size = 10, 1 << 10
	pr, pw := io.Pipe()
	go trickle(pw, chunks, size, 100*time.Millisecond)
	hr, err := http.NewRequest(http.MethodPost, srv.URL+documentsPath, pr)
	require.NoError(t, err)
	hr.ContentLength = chunks * size
	hr.Header.Set("Authorization", "Bearer "+tok)
	hr.Header.Set("Content-Type", "application/pdf")
	resp, err := srv.Client().Do(hr)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode, "the service's answer, not a cut read")
	assert.EqualValues(t, chunks*size, sink.received.Load())
}

func TestShortRouteStillAnswers408ToAStalledBody(t *testing.T) {
	_, _, srv := readDeadlineHarness(t, 5*time.Second)
	addr := strings.TrimPrefix(srv.URL, "http://")
	start := time.Now()
	code := rawExchange(t, addr, "POST /api/v1/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\n\r\n{\"email\":")
	assert.Equal(t, http.StatusRequestTimeout, code)
	assert.Less(t, time.Since(start), 3*time.Second, "bounded by the route's 300 ms, not the server's 5 s")
}

// A request answered at its route timeout leaves its keep-alive connection
// fit for the next request: a read deadline passing once the request is
// read cancels the connection's context in Go's server, and every later
// request on it would start cancelled.
func TestConnectionServesOnAfterARouteTimeout(t *testing.T) {
	h, _, srv := readDeadlineHarness(t, 5*time.Second)
	h.auth.setHandler(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/auth/login" {
			return
		}
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	})
	client := srv.Client()
	client.Transport.(*http.Transport).MaxConnsPerHost = 1
	for _, tc := range []struct{ name, body string }{{"without body", ""}, {"with body", `{"email":"a@b.example"}`}} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = http.NoBody
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			hr, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/api/v1/auth/login", body)
			require.NoError(t, err)
			resp, err := client.Do(hr)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusGatewayTimeout, resp.StatusCode)

			resp, err = client.Get(srv.URL + "/.well-known/jwks.json")
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}
