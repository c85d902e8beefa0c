package app_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/app"
)

// The stop hook ends the background work and waits for it, but no longer
// than its context allows: the process must exit within its shutdown
// timeout whatever a worker is stuck in.
func TestStopWorkWaitsNoLongerThanItsContext(t *testing.T) {
	var wg sync.WaitGroup
	release := make(chan struct{})
	stopped := make(chan struct{})
	wg.Go(func() { <-release })
	hook := app.StopWork(func() { close(stopped) }, &wg)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := hook(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a worker that does not stop is reported")
	select {
	case <-stopped:
	default:
		t.Error("the work was not told to stop")
	}

	close(release)
	assert.NoError(t, app.StopWork(func() {}, &wg)(context.Background()), "work that ends is waited for")
}

// Background work outlives the signal that starts the shutdown, and its
// Stop ends it and waits for a pass under way.
func TestWorkRunsPastTheSignalUntilStopped(t *testing.T) {
	signal, cancel := context.WithCancel(context.Background())
	w := app.NewWork(signal)
	var passes atomic.Int64
	running := make(chan struct{}, 1)
	release := make(chan struct{})
	w.Every(time.Millisecond, func(ctx context.Context) {
		if passes.Add(1) == 3 {
			running <- struct{}{}
			<-release
		}
	})
	cancel()
	<-running // a pass after the signal

	stopped := make(chan error, 1)
	go func() { stopped <- w.Stop(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned during a pass: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	assert.NoError(t, <-stopped)
	n := passes.Load()
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, n, passes.Load(), "no pass after Stop")
}
