package service_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medisync/medisync/records/service"
)

// Removals run after Go returns, at most max at once; a removal past the
// bound, or after Close began, is left (to the sweeper); Close waits for
// those running.
func TestCleanupsAreBoundedAndAwaited(t *testing.T) {
	c := service.NewCleanups(2, time.Minute)
	release := make(chan struct{})
	var done atomic.Int32
	slow := func(ctx context.Context) {
		<-release
		done.Add(1)
	}
	ctx := context.Background()
	if !c.Go(ctx, slow) || !c.Go(ctx, slow) {
		t.Fatal("a removal within the bound was refused")
	}
	if c.Go(ctx, slow) {
		t.Fatal("a third removal ran past the bound of two")
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close(context.Background()) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while removals ran", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-closed; err != nil || done.Load() != 2 {
		t.Fatalf("Close = %v with %d removals done, want nil and 2", err, done.Load())
	}
	if c.Go(ctx, slow) {
		t.Fatal("a removal ran after Close")
	}
}

// A removal gets ctx's values without its end (the request's deadline may
// be what failed the upload), and ends at its own timeout.
func TestCleanupsOutliveTheRequest(t *testing.T) {
	c := service.NewCleanups(0, 100*time.Millisecond)
	type key struct{}
	req, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "request"))
	cancel()
	got := make(chan error, 1)
	c.Go(req, func(ctx context.Context) {
		if ctx.Value(key{}) != "request" || ctx.Err() != nil {
			got <- errors.New("the removal lost the request's values or ended with it")
			return
		}
		<-ctx.Done()
		got <- ctx.Err()
	})
	if err := <-got; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("removal ended with %v, want its own timeout", err)
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Close waits only within the shutdown's budget, then stops the removals
// still running and says how many it left.
func TestCleanupsCloseWithinItsBudget(t *testing.T) {
	c := service.NewCleanups(0, time.Minute)
	c.Go(context.Background(), func(ctx context.Context) { <-ctx.Done() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Close(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close past its budget = %v, want the removals left", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close took %s past a 50ms budget", took)
	}
}

// A nil Cleanups runs the removal before Go returns.
func TestNilCleanupsRunInline(t *testing.T) {
	var c *service.Cleanups
	ran := false
	if !c.Go(context.Background(), func(context.Context) { ran = true }) || !ran {
		t.Fatal("a nil Cleanups did not run the removal before returning")
	}
}
