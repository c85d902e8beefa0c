// Package clock is the time port every service shares, so that use cases
// and tests agree on "now" without a global.
package clock

import (
	"context"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// System is the real clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// Func adapts a function to Clock.
type Func func() time.Time

// Now calls f.
func (f Func) Now() time.Time { return f() }

// Every calls fn every interval, on real time, until ctx ends; it returns
// when ctx ends. The background maintenance loops of the services (sweeps,
// reloads, purges) run on it. interval must be positive, as time.NewTicker
// panics otherwise: each service refuses a setting of zero or less at start.
func Every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
