package broker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
)

// A NATS consumer stopped while its events are being delivered ends
// cleanly, round after round: no delivery may race the end of its
// subscriptions (under -race a report; without, a "send on closed channel"
// panic in a delivery callback, which ends the whole process).
func TestNATSConsumerStoppedWhileDeliveringEndsCleanly(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	bp, ok := f.b.(interface {
		PublishBatch(context.Context, []events.Event) (int, error)
	})
	require.True(t, ok, "NATS publishes batches")
	for round := range 8 {
		batch := make([]events.Event, 300)
		for i := range batch {
			batch[i] = f.event(t, "thing_done")
		}
		n, err := bp.PublishBatch(context.Background(), batch)
		require.NoError(t, err)
		require.Equal(t, len(batch), n)

		ctx, cancel := context.WithCancel(context.Background())
		var handled atomic.Int64
		done := make(chan error, 1)
		go func() {
			done <- f.b.Consume(ctx, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"},
				Concurrency: 8, Handler: func(context.Context, events.Event) error {
					if handled.Add(1) == 40 {
						cancel() // while the rest are on their way
					}
					return nil
				}})
		}()
		select {
		case err := <-done:
			require.NoError(t, err, "round %d", round)
		case <-time.After(30 * time.Second):
			cancel()
			t.Fatalf("round %d: the consumer did not stop", round)
		}
		cancel()
	}
}
