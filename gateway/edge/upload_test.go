package edge_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/route"
)

const documentsPath = "/api/v1/records/patients/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee/documents"

// uploadSink is a records instance that reads upload bodies without
// keeping them, counting the bytes.
type uploadSink struct {
	*httptest.Server
	hits     atomic.Int64
	received atomic.Int64
	length   atomic.Int64 // the Content-Length it was sent
	started  chan struct{}
	once     sync.Once
}

func newUploadSink(t *testing.T) *uploadSink {
	s := &uploadSink{started: make(chan struct{})}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.length.Store(r.ContentLength)
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				s.received.Add(int64(n))
				s.once.Do(func() { close(s.started) })
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(s.Close)
	return s
}

func uploadHarness(t *testing.T, specs []route.Spec) (*harness, *uploadSink, *httptest.Server) {
	sink := newUploadSink(t)
	h := newHarness(t, options{specs: specs, instances: map[string][]string{"records": {strings.TrimPrefix(sink.URL, "http://")}}})
	srv := httptest.NewServer(h.handler)
	t.Cleanup(srv.Close)
	return h, sink, srv
}

// TestDocumentUploadStreamsThrough sends a 20 MiB document through the
// gateway's default route table: the service starts reading before the
// client has sent it all, and the process (client, gateway and service
// together) allocates a small fraction of the body.
func TestDocumentUploadStreamsThrough(t *testing.T) {
	const size = 20 << 20
	h, sink, srv := uploadHarness(t, nil)
	tok := h.token("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee")

	pr, pw := io.Pipe()
	var streamed atomic.Bool
	go func() {
		chunk := make([]byte, 64<<10)
		sent := 0
		write := func(upTo int) bool {
			for ; sent < upTo; sent += len(chunk) {
				if _, err := pw.Write(chunk); err != nil {
					return false
				}
			}
			return true
		}
		if !write(1 << 20) {
			return
		}
		// A gateway that held the body back until its end would never let
		// the service see these bytes; the wait only keeps such a gateway
		// from hanging the test.
		select {
		case <-sink.started:
			streamed.Store(true)
		case <-time.After(20 * time.Second):
			pw.CloseWithError(errors.New("the service saw nothing of the body"))
			return
		}
		if write(size) {
			_ = pw.Close()
		}
	}()
	r, err := http.NewRequest(http.MethodPost, srv.URL+documentsPath, pr)
	require.NoError(t, err)
	r.ContentLength = size
	r.Header.Set("Content-Type", "application/pdf")
	r.Header.Set("Authorization", "Bearer "+tok)

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := srv.Client().Do(r)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	runtime.ReadMemStats(&after)

	require.Equal(t, http.StatusCreated, res.StatusCode)
	assert.True(t, streamed.Load(), "the service read the body before the client finished sending it")
	assert.EqualValues(t, size, sink.received.Load())
	assert.EqualValues(t, size, sink.length.Load(), "Content-Length passes through")
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d KiB for a %d KiB upload", allocated>>10, size>>10)
	assert.Less(t, allocated, uint64(size/8), "the body is streamed, not buffered")
}

// TestRouteBodyLimits: the documents route takes bodies other routes
// refuse, and its own limit holds.
func TestRouteBodyLimits(t *testing.T) {
	h, sink, srv := uploadHarness(t, nil)
	tok := h.token("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee")
	addr := strings.TrimPrefix(srv.URL, "http://")

	// 2 MiB: too large for a JSON route, fine for a document.
	body := strings.Repeat("x", 2<<20)
	rec := h.do(req{method: http.MethodPost, path: "/api/v1/records/encounters", body: body, token: tok})
	requireProblem(t, rec, http.StatusRequestEntityTooLarge)
	rec = h.do(req{method: http.MethodPost, path: documentsPath, body: body, token: tok})
	assert.Equal(t, http.StatusCreated, rec.Code)
	assert.EqualValues(t, 2<<20, sink.received.Load())

	// A Content-Length over 60 MiB is refused at once: only the headers are
	// sent, and the answer comes without waiting for the body.
	code, closed := rawHeadersOnly(t, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/pdf\r\nContent-Length: %d\r\n\r\n", documentsPath, tok, 60<<20+1))
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.True(t, closed, "Connection: close, so the body is never read")
	assert.EqualValues(t, 1, sink.hits.Load(), "the refused upload never reached the service")
}

// TestChunkedBodyCutOffAtRouteLimit: a body without Content-Length is cut
// off once it passes the route's own limit.
func TestChunkedBodyCutOffAtRouteLimit(t *testing.T) {
	specs := route.Defaults()
	for i := range specs {
		if specs[i].Path == "/api/v1/records/patients/*/documents/**" {
			specs[i].MaxBody = "64KiB"
		}
	}
	h, sink, srv := uploadHarness(t, specs)
	tok := h.token("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee")
	addr := strings.TrimPrefix(srv.URL, "http://")

	// Over the limit by Content-Length, but small enough that the server
	// would otherwise read it to keep the connection: answered without the
	// body.
	code, closed := rawHeadersOnly(t, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/pdf\r\nContent-Length: %d\r\n\r\n", documentsPath, tok, 100<<10))
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	assert.True(t, closed)

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	go func() {
		// 1 MiB in 16 KiB chunks; writes fail once the gateway hangs up.
		if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n\r\n", documentsPath, tok); err != nil {
			return
		}
		chunk := strings.Repeat("y", 16<<10)
		for range 64 {
			if _, err := fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(c, "0\r\n\r\n")
	}()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.StatusCode)
	assert.LessOrEqual(t, sink.received.Load(), int64(64<<10), "the service got no more than the limit")
	assertNoFailureCounted(t, h, "records")
}

// rawHeadersOnly sends a request's head and no body, and reads the answer's
// status and whether the gateway closes the connection after it.
func rawHeadersOnly(t *testing.T, addr, head string) (int, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(c, head)
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	defer res.Body.Close()
	return res.StatusCode, res.Close
}

func assertNoFailureCounted(t *testing.T, h *harness, service string) {
	t.Helper()
	for host, counts := range h.pools[service].Counts() {
		assert.Zero(t, counts.TotalFailures, "%s: %+v", host, counts)
	}
}
