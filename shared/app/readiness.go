package app

import (
	"context"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/shared/discovery"
)

// The readiness an instance reports to discovery: DOWN after downAfter
// failed checks in a row, UP again after upAfter passed ones, so that one
// slow ping does not take an instance out of every gateway's pool.
const (
	defaultReadinessEvery = 5 * time.Second
	downAfter             = 3
	upAfter               = 2
)

// reportReadiness runs the readiness checks every o.ReadinessEvery and sets
// the instance's status in discovery to match: the gateway and every
// service's clients send requests to UP instances only, and an instance
// whose database is down would answer them 503. It returns a function that
// stops it and waits for it.
func (a *App) reportReadiness(ctx context.Context, r *discovery.Registrar) (stop func()) {
	every := a.opts.ReadinessEvery
	if every <= 0 {
		every = defaultReadinessEvery
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		// The registrar registered the instance UP: it was ready to serve.
		reported, want := discovery.StatusUp, discovery.StatusUp
		failed, passed := 0, 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if a.Health.IsReady(ctx) {
				failed, passed = 0, passed+1
				if passed >= upAfter {
					want = discovery.StatusUp
				}
			} else {
				failed, passed = failed+1, 0
				if failed >= downAfter {
					want = discovery.StatusDown
				}
			}
			if want == reported || ctx.Err() != nil {
				continue
			}
			// A server that missed the change is told again at the next
			// tick; the registrar registers again with the status wanted.
			if err := r.SetStatus(ctx, want); err != nil {
				_ = level.Warn(a.Logger).Log("msg", "readiness not reported to discovery", "status", want, "err", err)
				continue
			}
			reported = want
			lvl := level.Info
			if want != discovery.StatusUp {
				lvl = level.Warn
			}
			_ = lvl(a.Logger).Log("msg", "readiness reported to discovery", "status", want)
		}
	})
	return func() { cancel(); wg.Wait() }
}
