package upstream

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
)

// ClientBodyError means the request failed because of the client's own
// body, not the instance: reading it failed (a malformed chunked body, a
// connection cut mid-body) or the client stalled while the transport was
// waiting for its bytes until the route timeout. It never counts against an
// instance's circuit; the gateway answers 400, or 408 when Stalled.
type ClientBodyError struct {
	Err     error
	Stalled bool
}

func (e *ClientBodyError) Error() string {
	if e.Stalled {
		return fmt.Sprintf("the client stalled sending its request body: %v", e.Err)
	}
	return fmt.Sprintf("reading the client's request body: %v", e.Err)
}

func (e *ClientBodyError) Unwrap() error { return e.Err }

// clientBody watches the reads of a request body on their way upstream: a
// read that failed, or one still waiting on the client when the request
// failed, puts the blame on the client.
type clientBody struct {
	rc      io.ReadCloser
	reading atomic.Int32
	err     atomic.Pointer[error] // the first read error other than EOF
}

func (b *clientBody) Read(p []byte) (int, error) {
	b.reading.Add(1)
	n, err := b.rc.Read(p)
	b.reading.Add(-1)
	if err != nil && err != io.EOF {
		b.err.CompareAndSwap(nil, &err)
	}
	return n, err
}

// Close closes the body, but not while a read still waits on a stalled
// client: that read holds the body's lock, so closing now would hold the
// answer back until the client sent more or the server's read timeout
// passed. The close then happens once the read gives up.
func (b *clientBody) Close() error {
	if b.reading.Load() > 0 {
		go func() { _ = b.rc.Close() }()
		return nil
	}
	return b.rc.Close()
}

// blame turns err, the failure of a round trip that sent this body, into a
// ClientBodyError when the client's body caused it.
func (b *clientBody) blame(err error) error {
	if p := b.err.Load(); p != nil {
		return &ClientBodyError{Err: *p, Stalled: IsTimeout(*p)}
	}
	// The transport was still waiting for the client's bytes when the
	// deadline passed: the instance was not the one holding things up.
	if b.reading.Load() > 0 && IsTimeout(err) {
		return &ClientBodyError{Err: err, Stalled: true}
	}
	return err
}

// watchBody wraps req's body, if any, so that its failures can be blamed.
func watchBody(body io.ReadCloser) io.ReadCloser {
	if body == nil || body == http.NoBody {
		return body
	}
	if _, ok := body.(*clientBody); ok {
		return body
	}
	return &clientBody{rc: body}
}

// isClientBody reports whether err is the client's body's fault.
func isClientBody(err error) bool {
	var cbe *ClientBodyError
	return errors.As(err, &cbe)
}
