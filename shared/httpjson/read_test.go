package httpjson_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/httpjson"
)

// failingReader gives part of a body, then the connection's error.
type failingReader struct {
	head string
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.head == "" {
		return 0, r.err
	}
	n := copy(p, r.head)
	r.head = r.head[n:]
	return n, nil
}

// A body whose reading fails is answered as the gateway answers it: 408 when
// the server's read deadline passed, 400 otherwise, with the connection
// closed and without the error's text, which names the service's and the
// client's addresses.
func TestDecodeBodyReadFailures(t *testing.T) {
	addr := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	opErr := func(err error) error {
		return &net.OpError{Op: "read", Net: "tcp", Source: addr("10.0.0.5:8082"), Addr: addr("10.0.0.9:51234"), Err: err}
	}
	tests := []struct {
		name   string
		err    error
		status int
		detail string
	}{
		{"deadline", opErr(os.ErrDeadlineExceeded), http.StatusRequestTimeout, "the request body did not arrive in time"},
		{"reset", opErr(errors.New("connection reset by peer")), http.StatusBadRequest, "the request body could not be read"},
		{"cut short", io.ErrUnexpectedEOF, http.StatusBadRequest, "the request body could not be read"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in patientIn
			p := problemOf(t, httpjson.DecodeReader(&failingReader{head: `{"name":`, err: tc.err}, &in))
			assert.Equal(t, tc.status, p.Status)
			assert.Equal(t, tc.detail, p.Detail)
			assert.Equal(t, "close", p.Headers.Get("Connection"))
			assert.NotContains(t, p.Error(), "10.0.0")
		})
	}
}

// The body limit is still a 413, the connection kept.
func TestDecodeReadPastTheLimitIs413(t *testing.T) {
	var in patientIn
	r := request(`{"name":"`+strings.Repeat("a", 100)+`"}`, "application/json")
	p := problemOf(t, httpjson.Decode(r, &in, 50))
	assert.Equal(t, http.StatusRequestEntityTooLarge, p.Status)
	assert.Empty(t, p.Headers.Get("Connection"))
}
