package broker_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
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
// limit off, sets no bound in bytes unless told to, and keeps what it
// holds.
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
	assert.Equal(t, int64(-1), info.Config.MaxBytes, "no bound in bytes, which JetStream would reserve, unless the URL sets one")
	assert.Equal(t, int64(-1), info.Config.MaxMsgsPerSubject, "no bound per consumer unless the URL sets one")
	assert.Equal(t, jetstream.DiscardNew, info.Config.Discard, "bounded, it would refuse new dead letters rather than drop old ones")
	assert.Equal(t, uint64(1), info.State.Msgs)
}

// consumed is a consumer's count of an outcome in reg.
func consumed(t *testing.T, reg *prometheus.Registry, consumer, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "medisync_events_consumed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumer"] == consumer && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1 // no series
}

// A dead letter the full stream refuses is not acknowledged: the event
// stays on its own stream and comes again, counted as dead_letter_failed,
// until the stream takes it (here, once an instance without the bound
// runs the consumer). Nothing is lost, and nothing counts as dead-lettered
// that the stream does not hold.
func TestNATSDeadLetterRefusedLeavesTheEventOnItsStream(t *testing.T) {
	srv := brokertest.Embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	producer, consumer := brokertest.Name("p"), brokertest.Name("c")
	var (
		mu    sync.Mutex
		tries = map[string]int{}
	)
	c := broker.Consumer{Name: consumer, Types: []string{producer + ".thing_done"}, MaxAttempts: 1,
		Handler: func(_ context.Context, ev events.Event) error {
			mu.Lock()
			tries[ev.ID]++
			mu.Unlock()
			return broker.Permanent(errors.New("cannot apply"))
		}}
	run := func(url string) (broker.Broker, *prometheus.Registry, func()) {
		reg := prometheus.NewRegistry()
		b, err := broker.Open(ctx, url, broker.Options{Registerer: reg})
		require.NoError(t, err)
		broker.SetRequeueDelay(b, 20*time.Millisecond)
		cctx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- b.Consume(cctx, c) }()
		return b, reg, func() {
			stop()
			select {
			case err := <-done:
				assert.NoError(t, err)
			case <-time.After(20 * time.Second):
				t.Error("consumer did not stop")
			}
			_ = b.Close()
		}
	}
	triesOf := func(id string) int {
		mu.Lock()
		defer mu.Unlock()
		return tries[id]
	}

	small, reg, stop := run(srv.URL() + "?dlq_max_bytes=1")
	require.Eventually(t, func() bool { return consumed(t, reg, consumer, "dead") == 0 }, 10*time.Second, 20*time.Millisecond,
		"a running consumer's dead letters are counted from zero, so that an alert sees its first")
	ev, err := events.New(producer+".thing_done", 1, "s1", map[string]string{"k": "v"}, time.Now())
	require.NoError(t, err)
	require.NoError(t, small.Publish(ctx, ev))
	require.Eventually(t, func() bool { return triesOf(ev.ID) >= 3 }, 20*time.Second, 20*time.Millisecond,
		"the refused event comes again")
	assert.Equal(t, int64(1), dlqInfo(t, srv.URL()).Config.MaxBytes, "dlq_max_bytes sets the bound")
	list, err := small.DeadLetters(consumer).List(ctx, 10)
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.GreaterOrEqual(t, consumed(t, reg, consumer, "dead_letter_failed"), float64(1))
	assert.Zero(t, consumed(t, reg, consumer, "dead"), "a refused dead letter is not counted as stored")
	stop()

	large, reg, stop := run(srv.URL())
	defer stop()
	require.Eventually(t, func() bool {
		l, err := large.DeadLetters(consumer).List(ctx, 10)
		return err == nil && len(l) == 1 && l[0].ID == ev.ID
	}, 45*time.Second, 50*time.Millisecond, "the event, still on its stream, is dead-lettered once the stream takes it")
	assert.Equal(t, float64(1), consumed(t, reg, consumer, "dead"))
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
	for _, param := range []string{"dlq_max_bytes", "dlq_max_per_consumer"} {
		for _, q := range []string{"0", "-1", "1GiB", "x"} {
			_, err := broker.Open(context.Background(), "nats://127.0.0.1:4222?"+param+"="+q, broker.Options{})
			assert.Error(t, err, param+"="+q)
		}
	}
}
