package app

import (
	"context"
	"fmt"
	"sync"

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
