package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
)

// During an upgrade the services are not all of one version: an instance of
// the previous release (appointment, say, while notification is upgraded)
// that starts, or forgets the stream after a failure, runs its ensureStream,
// which updates MEDISYNC_DLQ back to the producers' config: MaxAge 7 days,
// no byte bound, discard old. The server then deletes every dead letter
// older than 7 days at once. The upgraded brokers' consumers check the
// stream's limits with their durables, every consumerCheck, and put them
// back.
func TestNATSDLQConfigRevertedByAPreviousReleaseIsRestored(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	broker.SetConsumerCheck(f.b, 200*time.Millisecond)
	f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 1,
		Handler: handler(f.consumer, func(context.Context, events.Event) error {
			return broker.Permanent(errors.New("cannot apply"))
		})})
	require.NoError(t, f.b.Publish(context.Background(), f.event(t, "thing_done")))
	dlq := f.b.DeadLetters(f.consumer)
	require.Eventually(t, func() bool {
		l, err := dlq.List(context.Background(), 10)
		return err == nil && len(l) == 1
	}, 10*time.Second, 50*time.Millisecond)
	require.Zero(t, dlqInfo(t, srv.URL()).Config.MaxAge)

	// What the previous release's ensureStream sends for MEDISYNC_DLQ when it
	// finds the stream's config differs (CreateStream, then UpdateStream).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.UpdateStream(ctx, jetstream.StreamConfig{
		Name: "MEDISYNC_DLQ", Subjects: []string{"medisync.dlq.>", "medisync.replay.>"},
		Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy,
		MaxAge: 7 * 24 * time.Hour, Duplicates: 2 * time.Minute, Replicas: 1,
	})
	require.NoError(t, err)

	// The upgraded broker goes on: another dead letter, a listing.
	require.NoError(t, f.b.Publish(context.Background(), f.event(t, "thing_done")))
	require.Eventually(t, func() bool {
		l, err := dlq.List(context.Background(), 10)
		return err == nil && len(l) == 2
	}, 10*time.Second, 50*time.Millisecond)
	time.Sleep(2 * time.Second)
	info := dlqInfo(t, srv.URL())
	assert.Zero(t, info.Config.MaxAge, "the dead letters expire again after %s, while upgraded brokers run", info.Config.MaxAge)
	assert.Equal(t, jetstream.DiscardNew, info.Config.Discard)
}
