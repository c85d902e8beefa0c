package service

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Defaults of NewCleanups.
const (
	// DefaultCleanupTimeout bounds one removal: a healthy store answers in
	// milliseconds, a hung one is the sweeper's to catch up with.
	DefaultCleanupTimeout = 10 * time.Second
	// DefaultMaxCleanups bounds the removals running at once.
	DefaultMaxCleanups = 64
)

// Cleanups runs the removals a failed upload leaves to do (its object, a
// multipart upload's parts) after the request is answered: on a blob store
// that hangs they would otherwise hold the answer past the request's
// deadline, waiting on the store that just failed. At most max run at
// once, each for at most its timeout; what one cannot remove, or what is
// left when all are busy or the service stops, the sweeper removes once
// older than its grace (ADR 0034). Close waits for those running, within
// the shutdown's budget.
//
// A nil *Cleanups runs each removal before Go returns, for a blob store
// used outside the service (tools, tests) with no shutdown to wait.
type Cleanups struct {
	max     int
	timeout time.Duration
	stop    context.Context // ends when Close gives up waiting
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu      sync.Mutex
	running int
	closed  bool
}

// NewCleanups returns Cleanups running at most max removals at once, each
// for at most timeout; 0 means the defaults.
func NewCleanups(max int, timeout time.Duration) *Cleanups {
	if max <= 0 {
		max = DefaultMaxCleanups
	}
	if timeout <= 0 {
		timeout = DefaultCleanupTimeout
	}
	stop, cancel := context.WithCancel(context.Background())
	return &Cleanups{max: max, timeout: timeout, stop: stop, cancel: cancel}
}

// Go runs f on its own goroutine, with ctx's values but not its deadline
// (the request's may be what failed the upload), for at most the timeout;
// f returns once its context ends.
// It reports false when it runs nothing: max are running, or Close has
// begun; the leftover is then the sweeper's.
func (c *Cleanups) Go(ctx context.Context, f func(ctx context.Context)) bool {
	if c == nil {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultCleanupTimeout)
		defer cancel()
		f(ctx)
		return true
	}
	c.mu.Lock()
	if c.closed || c.running >= c.max {
		c.mu.Unlock()
		return false
	}
	c.running++
	c.wg.Add(1)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
	unhook := context.AfterFunc(c.stop, cancel)
	go func() {
		defer func() {
			unhook()
			cancel()
			c.mu.Lock()
			c.running--
			c.mu.Unlock()
			c.wg.Done()
		}()
		f(ctx)
	}()
	return true
}

// Close takes no more removals and waits for those running until ctx
// ends, then stops them, reporting how many it stopped: their leftovers
// are the sweeper's.
func (c *Cleanups) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	defer c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	c.mu.Lock()
	cut := c.running
	c.mu.Unlock()
	c.cancel()
	<-done // a removal honours its context's end
	if cut == 0 {
		return nil
	}
	return fmt.Errorf("%d removals of failed uploads left to the sweeper: %w", cut, ctx.Err())
}
