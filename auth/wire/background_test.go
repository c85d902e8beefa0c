package wire

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/logging"
)

func TestBackgroundIsBoundedAndSurvivesPanics(t *testing.T) {
	b := newBackground(2, time.Minute, logging.Nop())
	release := make(chan struct{})
	hold := func(context.Context) { <-release }
	require.True(t, b.Go(context.Background(), hold))
	require.True(t, b.Go(context.Background(), hold))
	assert.False(t, b.Go(context.Background(), hold), "every slot is taken: the work is turned away")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Error(t, b.wait(ctx), "wait gives up with its context")
	close(release)
	require.NoError(t, b.wait(context.Background()))

	ran := make(chan struct{})
	require.True(t, b.Go(context.Background(), func(context.Context) { panic("boom") }))
	require.True(t, b.Go(context.Background(), func(ctx context.Context) {
		_, ok := ctx.Deadline()
		assert.True(t, ok, "work runs under a deadline")
		close(ran)
	}))
	require.NoError(t, b.wait(context.Background()))
	<-ran
}
