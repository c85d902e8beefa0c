package app_test

import (
	"context"
	"sync"
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
