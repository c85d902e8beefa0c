package edge_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/ratelimit"
	"github.com/medisync/medisync/gateway/route"
)

// rawExchange sends raw bytes to the gateway over a real connection (so
// that net/http parses the body as it would a client's) and reads the
// answer's status.
func rawExchange(t *testing.T, addr, raw string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = c.Write([]byte(raw))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	return resp.StatusCode
}

func clientBodyHarness(t *testing.T, loginTimeout string) (*harness, *httptest.Server) {
	specs := route.Defaults()
	for i := range specs {
		if specs[i].Path == "/api/v1/auth/login" {
			specs[i].Timeout = loginTimeout
		}
	}
	h := newHarness(t, options{specs: specs, strict: ratelimit.Policy{Name: "strict", RPS: 100, Burst: 100}})
	srv := httptest.NewServer(h.handler)
	t.Cleanup(srv.Close)
	return h, srv
}

func assertBreakerUntouched(t *testing.T, h *harness) {
	t.Helper()
	host := h.auth.hostport()
	counts := h.pools["auth"].Counts()[host]
	assert.Zero(t, counts.TotalFailures, "no failure counted: %+v", counts)
	assert.Zero(t, counts.ConsecutiveFailures)
	assert.Equal(t, gobreaker.StateClosed, h.pools["auth"].States()[host])
	rec := h.do(req{method: http.MethodPost, path: "/api/v1/auth/login", body: `{"email":"a@b.example"}`})
	assert.Equal(t, http.StatusOK, rec.Code, "logins keep working")
}

func TestMalformedChunkedBodiesAreTheClientsFault(t *testing.T) {
	h, srv := clientBodyHarness(t, "")
	addr := strings.TrimPrefix(srv.URL, "http://")
	for range 6 {
		code := rawExchange(t, addr, "POST /api/v1/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"+
			"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\nZZ-not-a-size\r\n\r\n")
		assert.Equal(t, http.StatusBadRequest, code)
	}
	assertBreakerUntouched(t, h)
}

func TestStalledBodiesAreTheClientsFault(t *testing.T) {
	h, srv := clientBodyHarness(t, "300ms")
	addr := strings.TrimPrefix(srv.URL, "http://")
	for range 5 {
		// Promises 100 bytes, sends 10, and waits: the route timeout passes
		// while the gateway waits for the client, not for the instance.
		code := rawExchange(t, addr, "POST /api/v1/auth/login HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"+
			"Content-Length: 100\r\n\r\n{\"email\":")
		assert.Equal(t, http.StatusRequestTimeout, code)
	}
	assertBreakerUntouched(t, h)
}
