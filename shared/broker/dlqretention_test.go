package broker_test

import (
	"context"
	"errors"
	"sync"
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

// ADR 0025: an event a consumer cannot apply "must not be lost, and must be
// replayable once the cause is fixed". On NATS the dead letters live in the
// MEDISYNC_DLQ stream, which must not take the producers' MaxAge (7 days by
// default): a dead letter nobody replayed within a week would be deleted by
// the server, silently, and its event with it (the producer's outbox row is
// purged after the same 7 days).
func TestNATSDeadLettersAreNotExpiredWithTheProducerStreams(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 1,
		Handler: handler(f.consumer, func(context.Context, events.Event) error {
			return broker.Permanent(errors.New("cannot apply"))
		})})
	ev := f.event(t, "thing_done")
	require.NoError(t, f.b.Publish(context.Background(), ev))
	require.Eventually(t, func() bool {
		l, err := f.b.DeadLetters(f.consumer).List(context.Background(), 10)
		return err == nil && len(l) == 1
	}, 10*time.Second, 50*time.Millisecond)

	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(context.Background(), "MEDISYNC_DLQ")
	require.NoError(t, err)
	info, err := s.Info(context.Background())
	require.NoError(t, err)
	assert.Zero(t, info.Config.MaxAge, "dead letters expire after %s without being replayed", info.Config.MaxAge)
}

// dlqInfo reads the MEDISYNC_DLQ stream of the server at url.
func dlqInfo(t *testing.T, url string, opts ...jetstream.StreamInfoOpt) *jetstream.StreamInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := nats.Connect(url)
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	s, err := js.Stream(ctx, "MEDISYNC_DLQ")
	require.NoError(t, err)
	info, err := s.Info(ctx, opts...)
	require.NoError(t, err)
	return info
}

// A deployment started before has its dead-letter stream with the
// producers' 7 days: the first broker that needs the stream takes the age
// limit off, bounds it in bytes instead, and keeps what it holds.
func TestNATSDeadLetterStreamWithAnAgeLimitIsUpdated(t *testing.T) {
	srv := brokertest.Embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "MEDISYNC_DLQ", Subjects: []string{"medisync.dlq.>", "medisync.replay.>"},
		Storage: jetstream.FileStorage, Retention: jetstream.LimitsPolicy,
		MaxAge: 7 * 24 * time.Hour, Duplicates: 2 * time.Minute, Replicas: 1,
	})
	require.NoError(t, err)
	consumer := brokertest.Name("c")
	_, err = js.Publish(ctx, broker.DeadLetterTopic(consumer), []byte(`{"id":"0190d3c8-0000-7000-8000-000000000001","type":"p.thing_done"}`))
	require.NoError(t, err)

	b, err := broker.Open(ctx, srv.URL(), broker.Options{})
	require.NoError(t, err)
	defer b.Close()
	list, err := b.DeadLetters(consumer).List(ctx, 10)
	require.NoError(t, err)
	assert.Len(t, list, 1, "the dead letter held stays")

	info := dlqInfo(t, srv.URL())
	assert.Zero(t, info.Config.MaxAge, "no age limit")
	assert.Equal(t, 2*time.Minute, info.Config.Duplicates, "the duplicate window does not follow the age limit")
	assert.Equal(t, int64(1<<30), info.Config.MaxBytes, "bounded in bytes, 1 GiB unless the URL says otherwise")
	assert.Equal(t, jetstream.DiscardNew, info.Config.Discard, "full, it refuses new dead letters rather than drop old ones")
	assert.Equal(t, uint64(1), info.State.Msgs)
}

// The dead-letter stream has no age limit, so the replays its consumer has
// applied leave it with the next replay instead of piling up until the
// stream refuses dead letters.
func TestNATSReplaysAppliedLeaveTheDeadLetterStream(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	rec := newRecorder()
	var mu sync.Mutex
	poisoned := map[string]bool{}
	f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 1,
		Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
			mu.Lock()
			bad := poisoned[ev.ID]
			mu.Unlock()
			if bad {
				return errors.New("cannot apply")
			}
			rec.record(ev)
			rec.ch <- ev.ID
			return nil
		})})
	first, second := f.event(t, "thing_done"), f.event(t, "thing_done")
	mu.Lock()
	poisoned[first.ID], poisoned[second.ID] = true, true
	mu.Unlock()
	require.NoError(t, f.b.Publish(context.Background(), first))
	require.NoError(t, f.b.Publish(context.Background(), second))
	dlq := f.b.DeadLetters(f.consumer)
	require.Eventually(t, func() bool {
		l, err := dlq.List(context.Background(), 10)
		return err == nil && len(l) == 2
	}, 10*time.Second, 50*time.Millisecond)
	mu.Lock()
	poisoned[first.ID], poisoned[second.ID] = false, false
	mu.Unlock()

	replays := broker.ReplayTopic(f.consumer)
	require.NoError(t, dlq.Replay(context.Background(), first.ID))
	assert.Equal(t, []string{first.ID}, rec.await(t, 1))
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		ci, err := js.ConsumerInfo("MEDISYNC_DLQ", broker.DurableName(f.consumer, replays))
		return err == nil && ci.NumAckPending == 0 && ci.AckFloor.Stream > 0
	}, 10*time.Second, 20*time.Millisecond, "the replay acknowledged")
	require.Equal(t, uint64(1), dlqInfo(t, srv.URL(), jetstream.WithSubjectFilter(replays)).State.Subjects[replays])

	require.NoError(t, dlq.Replay(context.Background(), second.ID))
	assert.Equal(t, []string{second.ID}, rec.await(t, 1))
	assert.Equal(t, uint64(1), dlqInfo(t, srv.URL(), jetstream.WithSubjectFilter(replays)).State.Subjects[replays],
		"the first replay, applied, is gone; the second waits for the next")
	list, err := dlq.List(context.Background(), 10)
	require.NoError(t, err)
	assert.Empty(t, list)
}

func TestOpenRefusesABadDeadLetterBound(t *testing.T) {
	for _, q := range []string{"0", "-1", "1GiB", "x"} {
		_, err := broker.Open(context.Background(), "nats://127.0.0.1:4222?dlq_max_bytes="+q, broker.Options{})
		assert.Error(t, err, q)
	}
}
