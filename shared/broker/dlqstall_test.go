package broker_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/logging/logtest"
)

// stallFixture runs consumers that cannot apply the events of subject
// "bad" and apply the others.
type stallFixture struct {
	b   broker.Broker
	reg *prometheus.Registry
	url string
}

func (f stallFixture) consume(t *testing.T, ctx context.Context, consumer, producer string, good *atomic.Bool) {
	t.Helper()
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- f.b.Consume(cctx, broker.Consumer{Name: consumer, Types: []string{producer + ".thing_done"}, MaxAttempts: 1, Concurrency: 4,
			Handler: func(_ context.Context, ev events.Event) error {
				if ev.Subject == "good" {
					good.Store(true)
					return nil
				}
				return broker.Permanent(errors.New("cannot apply"))
			}})
	}()
	t.Cleanup(func() { stop(); <-done })
}

// publish sends n events of subject "bad", then one of subject "good".
func (f stallFixture) publish(t *testing.T, ctx context.Context, producer string, n int) {
	t.Helper()
	evs := make([]events.Event, 0, n)
	for i := 0; i < n; i++ {
		ev, err := events.New(producer+".thing_done", 1, "bad", map[string]string{"k": "v"}, time.Now())
		require.NoError(t, err)
		evs = append(evs, ev)
	}
	sent, err := f.b.(interface {
		PublishBatch(context.Context, []events.Event) (int, error)
	}).PublishBatch(ctx, evs)
	require.NoError(t, err)
	require.Equal(t, n, sent)
	ev, err := events.New(producer+".thing_done", 1, "good", map[string]string{"k": "v"}, time.Now())
	require.NoError(t, err)
	require.NoError(t, f.b.Publish(ctx, ev))
}

// deadLetters is how many dead letters of consumer the stream holds.
func (f stallFixture) deadLetters(t *testing.T, consumer string) uint64 {
	subject := broker.DeadLetterTopic(consumer)
	return dlqInfo(t, f.url, jetstream.WithSubjectFilter(subject)).State.Subjects[subject]
}

func newStallFixture(t *testing.T, ctx context.Context, query string) stallFixture {
	t.Helper()
	srv := brokertest.Embedded(t)
	reg := prometheus.NewRegistry()
	b, err := broker.Open(ctx, srv.URL()+query, broker.Options{Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	broker.SetRequeueDelay(b, 200*time.Millisecond)
	return stallFixture{b: b, reg: reg, url: srv.URL()}
}

// Each event a consumer cannot apply whose dead letter the broker refuses
// stays pending on the consumer's durable; once 1024 are (its
// MaxAckPending), JetStream delivers that consumer nothing new of their
// type, and the events it could apply wait behind them (ADR 0025). So the
// dead-letter stream has no bound unless the URL sets one, and a bound per
// consumer keeps the stall to the consumer whose dead letters fill its
// share: the others go on dead-lettering and applying.
func TestNATSRefusedDeadLettersStallOnlyTheirConsumer(t *testing.T) {
	t.Run("unbounded by default", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		f := newStallFixture(t, ctx, "")
		producer, consumer := brokertest.Name("p"), brokertest.Name("c")
		var good atomic.Bool
		f.consume(t, ctx, consumer, producer, &good)
		f.publish(t, ctx, producer, 1100)
		require.Eventually(t, good.Load, 30*time.Second, 100*time.Millisecond,
			"an event the consumer can apply waits behind 1100 it cannot")
		require.Eventually(t, func() bool { return f.deadLetters(t, consumer) == 1100 }, 30*time.Second, 100*time.Millisecond)
		assert.Zero(t, consumed(t, f.reg, consumer, "dead_letter_failed"))
	})
	t.Run("bounded per consumer", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		f := newStallFixture(t, ctx, "?dlq_max_per_consumer=10")
		pa, ca := brokertest.Name("p"), brokertest.Name("c")
		var goodA atomic.Bool
		f.consume(t, ctx, ca, pa, &goodA)
		f.publish(t, ctx, pa, 1100)
		require.Eventually(t, func() bool { return consumed(t, f.reg, ca, "dead_letter_failed") > 0 }, 30*time.Second, 100*time.Millisecond,
			"the consumer's dead letters beyond its bound are refused")
		assert.Equal(t, uint64(10), f.deadLetters(t, ca), "at most dlq_max_per_consumer dead letters of one consumer")

		pb, cb := brokertest.Name("p"), brokertest.Name("c")
		var goodB atomic.Bool
		f.consume(t, ctx, cb, pb, &goodB)
		f.publish(t, ctx, pb, 3)
		require.Eventually(t, goodB.Load, 30*time.Second, 100*time.Millisecond, "another consumer applies its events")
		require.Eventually(t, func() bool { return f.deadLetters(t, cb) == 3 }, 30*time.Second, 100*time.Millisecond,
			"and dead-letters those it cannot apply, the stream having room for them")
		assert.Zero(t, consumed(t, f.reg, cb, "dead_letter_failed"))
		assert.Equal(t, uint64(10), f.deadLetters(t, ca))
	})
}

// JetStream applies a lower bound per subject to what a stream holds by
// deleting the oldest messages, whatever its discard policy. A bound per
// consumer below what one holds is therefore left unapplied, with a
// warning, and the rest of the limits applied: no dead letter goes.
func TestNATSPerConsumerBoundBelowWhatAConsumerHoldsWaits(t *testing.T) {
	srv := brokertest.Embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	oldDLQStream(t, srv.URL())
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	consumer := brokertest.Name("c")
	for i := 0; i < 5; i++ {
		_, err = js.Publish(ctx, broker.DeadLetterTopic(consumer),
			[]byte(`{"id":"0190d3c8-0000-7000-8000-00000000000`+strconv.Itoa(i)+`","type":"p.thing_done"}`))
		require.NoError(t, err)
	}

	var logs logtest.Buffer
	b, err := broker.Open(ctx, srv.URL()+"?dlq_max_per_consumer=2", broker.Options{Logger: log.NewLogfmtLogger(&logs)})
	require.NoError(t, err)
	defer b.Close()
	list, err := b.DeadLetters(consumer).List(ctx, 10)
	require.NoError(t, err)
	assert.Len(t, list, 5, "no dead letter deleted")
	info := dlqInfo(t, srv.URL())
	assert.Equal(t, int64(-1), info.Config.MaxMsgsPerSubject, "the bound waits")
	assert.Zero(t, info.Config.MaxAge, "the other limits are applied")
	assert.Equal(t, uint64(5), info.State.Msgs)
	assert.Contains(t, logs.String(), "more dead letters or replays than dlq_max_per_consumer")

	b2, err := broker.Open(ctx, srv.URL()+"?dlq_max_per_consumer=5", broker.Options{})
	require.NoError(t, err)
	defer b2.Close()
	_, err = b2.DeadLetters(consumer).List(ctx, 10)
	require.NoError(t, err)
	info = dlqInfo(t, srv.URL())
	assert.Equal(t, int64(5), info.Config.MaxMsgsPerSubject, "a bound the consumers are within is applied")
	assert.True(t, info.Config.DiscardNewPerSubject)
	assert.Equal(t, uint64(5), info.State.Msgs)
}
