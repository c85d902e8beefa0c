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

	// A WaitGroup cannot serve here: wait may give up while work is still
	// running, and a WaitGroup must not grow again before its Wait returns.
	mu      sync.Mutex
	running int
	idle    chan struct{} // closed when running drops to zero
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
	b.mu.Lock()
	if b.running == 0 {
		b.idle = make(chan struct{})
	}
	b.running++
	b.mu.Unlock()
	go func() {
		defer b.done()
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

func (b *background) done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.running--
	if b.running == 0 {
		close(b.idle)
	}
}

// wait returns when the work started so far has finished, or ctx ends.
func (b *background) wait(ctx context.Context) error {
	b.mu.Lock()
	if b.running == 0 {
		b.mu.Unlock()
		return nil
	}
	idle := b.idle
	b.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for background work: %w", ctx.Err())
	}
}
