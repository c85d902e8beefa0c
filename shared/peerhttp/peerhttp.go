// Package peerhttp calls another service's JSON API on the caller's behalf
// (their bearer token travels on), each call bounded by a timeout and
// guarded by a circuit breaker that counts only the peer's own failures.
package peerhttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
)

// Options configure a Client; zero values take the defaults.
type Options struct {
	// BaseURL of the peer: "http://doctor" resolves through discovery with
	// the service's HTTP client.
	BaseURL string
	// Timeout bounds one call (default 2 s).
	Timeout time.Duration
	// Failures in a row that open the breaker (default 5), and how long it
	// stays open before a probe (default 5 s).
	Failures    uint32
	OpenTimeout time.Duration
	// MaxBody bounds the body of an answer that is read (default 1 MiB).
	MaxBody int64
}

// ErrFault marks a failure of the peer (unreachable, slow, 5xx or 429, an
// answer that cannot be read), which the breaker counts.
var ErrFault = errors.New("peer failed")

// errCallerGone marks a call abandoned because the caller went away (its
// request was cancelled) or ran out of its own time: no fault of the peer,
// so the breaker leaves it out, and callers that hang up or spent their
// budget elsewhere cannot open it for everyone.
var errCallerGone = errors.New("caller went away")

// StatusError is an answer other than 200 that is no failure of the peer
// (a 4xx the caller caused): the breaker does not count it.
type StatusError struct {
	Peer string
	Code int
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s service answered %d", e.Peer, e.Code) }

// ErrTokenRefused is the answer when a peer refuses the caller's token,
// valid here a moment ago: it has expired on the way.
var ErrTokenRefused = domainerr.New(domainerr.Unauthenticated, "the token was refused; sign in again")

// Status is the status of a StatusError in err's chain, or 0.
func Status(err error) int {
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.Code
	}
	return 0
}

// Down reports whether err means the peer cannot answer now: a fault of
// the peer or a breaker that refuses calls.
func Down(err error) bool {
	return errors.Is(err, ErrFault) || errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests)
}

// Client calls one peer service.
type Client struct {
	http    *http.Client
	name    string
	opts    Options
	breaker *gobreaker.CircuitBreaker[struct{}]
}

// New returns the client of the peer called name (the breaker's name and
// the one its errors give) through hc.
func New(hc *http.Client, name string, o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Second
	}
	if o.Failures == 0 {
		o.Failures = 5
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 5 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	cb := gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:         name,
		Timeout:      o.OpenTimeout,
		ReadyToTrip:  func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= o.Failures },
		IsSuccessful: func(err error) bool { return err == nil || !errors.Is(err, ErrFault) },
		IsExcluded:   func(err error) bool { return errors.Is(err, errCallerGone) },
	})
	return &Client{http: hc, name: name, opts: o, breaker: cb}
}

// GetJSON fetches path (with its query) and decodes a 200 answer into dst.
// Any other answer is a *StatusError, or ErrFault for the peer's failures;
// an open breaker answers gobreaker's errors at once (see Down).
func (c *Client) GetJSON(ctx context.Context, path string, dst any) error {
	caller := ctx
	_, err := c.breaker.Execute(func() (struct{}, error) {
		ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.opts.BaseURL+path, nil)
		if err != nil {
			return struct{}{}, fmt.Errorf("%s request: %w", c.name, err)
		}
		if tok := authn.TokenFrom(ctx); tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		req.Header.Set("Accept", "application/json")
		res, err := c.http.Do(req)
		if err != nil {
			return struct{}{}, fault(caller, CallError(c.name, req, err))
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			// Drained a little, so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
			if res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests {
				return struct{}{}, fmt.Errorf("%w: status %d", ErrFault, res.StatusCode)
			}
			return struct{}{}, &StatusError{Peer: c.name, Code: res.StatusCode}
		}
		if err := json.NewDecoder(io.LimitReader(res.Body, c.opts.MaxBody)).Decode(dst); err != nil {
			// The answer may have been cut short by the caller leaving.
			return struct{}{}, fault(caller, fmt.Errorf("decode %s answer: %w", c.name, err))
		}
		return struct{}{}, nil
	})
	return err
}

// fault marks err, met while calling the peer or reading its answer, as
// the peer's fault, unless the caller went away or ran out of time
// meanwhile, which is what cut the call short.
func fault(caller context.Context, err error) error {
	if caller.Err() != nil {
		return fmt.Errorf("%w: %w", errCallerGone, err)
	}
	return fmt.Errorf("%w: %w", ErrFault, err)
}

// CallError is err, what http.Client.Do answered req to the service called
// peer, naming the call by its method, the peer and the path only: the
// *url.Error Do answers quotes the whole URL, and a query string may hold
// what is never logged (docs/logging.md), a doctor's id and the times of a
// patient's visit among them.
func CallError(peer string, req *http.Request, err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return fmt.Errorf("%s %s %s: %w", req.Method, peer, req.URL.EscapedPath(), err)
}
