package app

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/server"
)

// StopWork is the shutdown hook of a service's background work (event
// consumers, periodic passes) run on a context of its own: it calls stop,
// which ends that context, and waits for wg, but no longer than the hook's
// context. Work stuck past the shutdown's budget (a broker or a mail server
// that accepts and never answers, whose client waits its own timeout) must
// not keep the process from exiting: what it held is taken up again, an
// event redelivered, a lease that lapses.
func StopWork(stop func(), wg *sync.WaitGroup) server.Hook {
	return func(ctx context.Context) error {
		stop()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("background work still running: %w", ctx.Err())
		}
	}
}

// Work is a service's background work (event consumers, periodic passes)
// on a context of its own, which ends after the requests drain rather than
// with the signal that begins it, so that the last requests' effects are
// still worked on: Stop, a hook for Run's closers, ends it (StopWork).
type Work struct {
	ctx  context.Context
	stop func()
	wg   sync.WaitGroup
}

// NewWork is background work on a context that keeps ctx's values but not
// its end.
func NewWork(ctx context.Context) *Work {
	w := &Work{}
	w.ctx, w.stop = context.WithCancel(context.WithoutCancel(ctx))
	return w
}

// Go runs fn on the work's context until it returns.
func (w *Work) Go(fn func(ctx context.Context)) { w.wg.Go(func() { fn(w.ctx) }) }

// Every runs fn on the work's context every period (clock.Every) until the
// work stops; period must be positive.
func (w *Work) Every(period time.Duration, fn func(ctx context.Context)) {
	w.Go(func(ctx context.Context) { clock.Every(ctx, period, func() { fn(ctx) }) })
}

// Stop ends the work and waits for it within ctx (StopWork).
func (w *Work) Stop(ctx context.Context) error { return StopWork(w.stop, &w.wg)(ctx) }
