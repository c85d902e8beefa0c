package wire

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// background runs deferred work (service.Background) on at most cap(slots)
// goroutines at once, each bounded by timeout; beyond that it refuses, so a
// flood of requests cannot pile up goroutines.
type background struct {
	slots   chan struct{}
	timeout time.Duration
	logger  log.Logger
	wg      sync.WaitGroup
}

func newBackground(n int, timeout time.Duration, logger log.Logger) *background {
	return &background{slots: make(chan struct{}, n), timeout: timeout, logger: logger}
}

func (b *background) Go(ctx context.Context, fn func(context.Context)) bool {
	select {
	case b.slots <- struct{}{}:
	default:
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer func() { <-b.slots }()
		defer func() {
			// Outside a request no middleware recovers; keep the process.
			if v := recover(); v != nil {
				_ = level.Error(b.logger).Log("msg", "panic in background work", "panic", fmt.Sprint(v))
			}
		}()
		ctx, cancel := context.WithTimeout(ctx, b.timeout)
		defer cancel()
		fn(ctx)
	}()
	return true
}

// wait returns when the work started so far has finished, or ctx ends.
func (b *background) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for background work: %w", ctx.Err())
	}
}
