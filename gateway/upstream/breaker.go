package upstream

import (
	"context"
	"errors"
	"net/http"
	"time"

	kitendpoint "github.com/go-kit/kit/endpoint"
	"github.com/sony/gobreaker/v2"
)

// BreakerSettings configure the circuit breaker of each instance.
type BreakerSettings struct {
	// ConsecutiveFailures opens the circuit after this many failures in a
	// row (default 5).
	ConsecutiveFailures uint32
	// FailureRatio opens the circuit when at least MinRequests were judged
	// (answered or failed, not abandoned by the client) in the current
	// Interval and this share of them failed (default 0.5).
	FailureRatio float64
	MinRequests  uint32        // default 20
	Interval     time.Duration // closed-state counting window; default 30 s
	// OpenTimeout is how long an open circuit refuses before it lets
	// probes through (half-open); default 5 s.
	OpenTimeout time.Duration
	// HalfOpenRequests is how many probes a half-open circuit admits at
	// once; they all must succeed to close it (default 1).
	HalfOpenRequests uint32
}

func (s BreakerSettings) withDefaults() BreakerSettings {
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = 5
	}
	if s.FailureRatio <= 0 || s.FailureRatio > 1 {
		s.FailureRatio = 0.5
	}
	if s.MinRequests == 0 {
		s.MinRequests = 20
	}
	if s.Interval <= 0 {
		s.Interval = 30 * time.Second
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = 5 * time.Second
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = 1
	}
	return s
}

func (s BreakerSettings) gobreaker(name string, onChange func(from, to gobreaker.State)) gobreaker.Settings {
	return gobreaker.Settings{
		Name:        name,
		MaxRequests: s.HalfOpenRequests,
		Interval:    s.Interval,
		Timeout:     s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= s.ConsecutiveFailures {
				return true
			}
			// Only requests the instance answered or failed are judged:
			// Requests also holds those still in flight and those a client
			// abandoned (excluded), which say nothing of the instance.
			n := c.TotalSuccesses + c.TotalFailures
			return n >= s.MinRequests && float64(c.TotalFailures) >= s.FailureRatio*float64(n)
		},
		OnStateChange: func(_ string, from, to gobreaker.State) { onChange(from, to) },
		IsExcluded:    clientFault,
	}
}

// clientFault reports errors that say nothing about the instance: the client
// went away, its body was over the limit, malformed, or stalled.
func clientFault(err error) bool {
	if err == nil {
		return false
	}
	var mbe *http.MaxBytesError
	return errors.Is(err, context.Canceled) || errors.As(err, &mbe) || isClientBody(err)
}

// errUnhealthyStatus marks an upstream answer that counts as a failure of the
// instance although a response came back.
var errUnhealthyStatus = errors.New("upstream answered 502, 503 or 504")

// unhealthy reports whether an upstream answer says the instance itself is
// failing (a 500 is a fault of one request, not of the instance). A 503 the
// service sends because one of its dependencies is down (ADR 0027) counts
// too: an instance that alone cannot reach its database says the same, and
// must leave the rotation. When every instance says it, every circuit
// opens and the pool sends the requests anyway (Pool.RoundTrip), so that a
// dependency's outage does not become the whole service's.
func unhealthy(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

// bypassKey marks a request sent past its instance's circuit.
type bypassKey struct{}

// errOpen is returned without calling the instance when its circuit refuses
// the request (open, or half-open with its probes in flight).
var errOpen = errors.New("circuit open")

// probe, passed as an endpoint's context, asks whether its circuit would
// admit a request now, without sending one or taking a half-open circuit's
// probe turn: the endpoint answers nil, or errOpen. It is compared by
// identity, so asking costs no allocation.
var probe = context.WithValue(context.Background(), probeKey{}, true)

type probeKey struct{}

// admits reports whether the instance behind ep would admit a request now.
func admits(ep kitendpoint.Endpoint) bool {
	_, err := ep(probe, nil)
	return err == nil
}

// breakerMiddleware is the go-kit endpoint middleware guarding one instance.
// The endpoint's response is an *http.Response; connection errors, timeouts,
// 502, 503 and 504 answers count as failures. halfOpen is the number of
// probes a half-open circuit admits at once.
func breakerMiddleware(cb *gobreaker.TwoStepCircuitBreaker[struct{}], halfOpen uint32) kitendpoint.Middleware {
	return func(next kitendpoint.Endpoint) kitendpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			if ctx == probe {
				switch cb.State() {
				case gobreaker.StateClosed:
					return nil, nil
				case gobreaker.StateHalfOpen:
					if c := cb.Counts(); c.Requests-min(c.Requests, c.TotalExclusions) < halfOpen {
						return nil, nil
					}
				}
				return nil, errOpen
			}
			if ctx.Value(bypassKey{}) != nil {
				return next(ctx, request) // counts for nothing
			}
			done, err := cb.Allow()
			if err != nil {
				return nil, errOpen
			}
			resp, err := next(ctx, request)
			switch {
			case err != nil:
				done(err)
			case unhealthy(resp.(*http.Response).StatusCode):
				done(errUnhealthyStatus)
			default:
				done(nil)
			}
			return resp, err
		}
	}
}
