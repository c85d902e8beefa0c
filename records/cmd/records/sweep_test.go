package main

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/require"
)

// A sweep under way goes on past the signal that begins the shutdown, while
// requests drain, and the shutdown's hook waits for it to end: the store
// closes after it, never under it.
func TestSweepOutlivesTheSignalAndIsWaitedFor(t *testing.T) {
	signal, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan struct{})
	var once sync.Once
	var finished atomic.Bool
	stop := startSweeps(signal, log.NewNopLogger(), 10*time.Millisecond, func(ctx context.Context) (int, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		// What a sweep does once its context ends (a removal answered)
		// takes a while still.
		time.Sleep(50 * time.Millisecond)
		finished.Store(true)
		return 0, ctx.Err()
	})
	<-started
	cancel()
	time.Sleep(150 * time.Millisecond)
	require.False(t, finished.Load(), "the sweep ended with the signal, before the requests drained")

	hookCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	require.NoError(t, stop(hookCtx))
	require.True(t, finished.Load(), "the shutdown went on while the sweep was under way")
}
