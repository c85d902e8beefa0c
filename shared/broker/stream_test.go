package broker_test

import (
	"context"
	"strings"
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

// A producer's stream is created once and left alone by brokers of the
// same configuration; a producer's broker with another one (a longer
// retention) updates it, a consumer's does not.
func TestNATSStreamIsUpdatedOnlyWhenItsConfigurationChanges(t *testing.T) {
	srv := brokertest.Embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	producer := brokertest.Name("p")
	stream := "MEDISYNC_" + strings.ToUpper(producer)

	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	info := func() *jetstream.StreamInfo {
		s, err := js.Stream(ctx, stream)
		require.NoError(t, err)
		i, err := s.Info(ctx)
		require.NoError(t, err)
		return i
	}

	publish := func(maxAge time.Duration) {
		b, err := broker.Open(ctx, srv.URL(), broker.Options{StreamMaxAge: maxAge})
		require.NoError(t, err)
		defer b.Close()
		ev, err := events.New(producer+".thing_done", 1, "s1", nil, time.Now())
		require.NoError(t, err)
		require.NoError(t, b.Publish(ctx, ev))
	}
	publish(time.Hour)
	created := info().Created
	require.Equal(t, time.Hour, info().Config.MaxAge)

	publish(time.Hour)
	require.Equal(t, time.Hour, info().Config.MaxAge)
	require.Equal(t, created, info().Created, "the same configuration keeps the stream")

	publish(2 * time.Hour)
	require.Equal(t, 2*time.Hour, info().Config.MaxAge, "another configuration updates it")
	require.Equal(t, uint64(3), info().State.Msgs)

	// A consumer of another configuration reads the stream as its
	// producer made it: only the producer updates its stream.
	b, err := broker.Open(ctx, srv.URL(), broker.Options{StreamMaxAge: 3 * time.Hour})
	require.NoError(t, err)
	defer b.Close()
	consumer := brokertest.Name("c")
	got := make(chan string, 3)
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Consume(cctx, broker.Consumer{Name: consumer, Types: []string{producer + ".thing_done"},
			Handler: func(hctx context.Context, ev events.Event) error {
				select { // a redelivery beyond the three must not hold the handler
				case got <- ev.ID:
				case <-hctx.Done():
				}
				return nil
			}})
	}()
	for range 3 {
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatal("the consumer did not read the stream")
		}
	}
	stop()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the consumer did not stop")
	}
	assert.Equal(t, 2*time.Hour, info().Config.MaxAge, "a consumer leaves its producer's stream as it is")
}

// A producer's stream that disappears (a NATS back without its store, an
// operator's delete) is created again by the next publish, single or
// batched, and a consumer running on it finds its events again.
func TestNATSStreamLostIsCreatedAgain(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	stream := "MEDISYNC_" + strings.ToUpper(f.producer)
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	lose := func() {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, js.DeleteStream(ctx, stream))
	}
	// publishes tries a few times, as the relay's next passes do: the first
	// may fail, finding the stream gone. Each try sends the same events, as
	// the relay does: an attempt reported failed may still store some of
	// them later (JetStream's client sends an unanswered asynchronous
	// publish again after 250 ms, into the stream created meanwhile), and
	// only the event ids, the Nats-Msg-Id, let the stream drop the copies.
	publishes := func(publish func(ctx context.Context) error) {
		t.Helper()
		var err error
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err = publish(ctx)
			cancel()
			if err == nil {
				return
			}
		}
		t.Fatalf("publishing still fails: %v", err)
	}

	bp, ok := f.b.(interface {
		PublishBatch(context.Context, []events.Event) (int, error)
	})
	require.True(t, ok, "NATS publishes batches")
	require.NoError(t, f.b.Publish(context.Background(), f.event(t, "thing_done")))
	lose()
	single := f.event(t, "thing_done")
	publishes(func(ctx context.Context) error { return f.b.Publish(ctx, single) })
	lose()
	batch := []events.Event{f.event(t, "thing_done"), f.event(t, "thing_done")}
	publishes(func(ctx context.Context) error {
		_, err := bp.PublishBatch(ctx, batch)
		return err
	})

	rec := newRecorder()
	broker.SetConsumerCheck(f.b, 100*time.Millisecond)
	f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"},
		Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
			rec.record(ev)
			rec.ch <- ev.ID
			return nil
		})})
	assert.ElementsMatch(t, []string{batch[0].ID, batch[1].ID}, rec.await(t, 2), "the batch, all the stream holds now")
	lose()
	ev := f.event(t, "thing_done")
	publishes(func(ctx context.Context) error { return f.b.Publish(ctx, ev) })
	assert.Equal(t, []string{ev.ID}, rec.await(t, 1), "the consumer follows the stream created again")
}

// A producer's stream made again by a consumer (lost while the consumer
// runs) carries the consumer's configuration, and the producer's publishes
// into it succeed: the producer still brings it back to its own, and so
// does a broker that read the stream before publishing to it.
func TestNATSStreamMadeByAConsumerIsBroughtToItsProducersConfiguration(t *testing.T) {
	srv := brokertest.Embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	producer := brokertest.Name("p")
	stream := "MEDISYNC_" + strings.ToUpper(producer)
	typ := producer + ".thing_done"

	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	maxAge := func() time.Duration {
		s, err := js.Stream(ctx, stream)
		if err != nil {
			return 0
		}
		return s.CachedInfo().Config.MaxAge
	}
	open := func(maxAge time.Duration) broker.Broker {
		b, err := broker.Open(ctx, srv.URL(), broker.Options{StreamMaxAge: maxAge})
		require.NoError(t, err)
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	publish := func(b broker.Broker) {
		t.Helper()
		ev, err := events.New(typ, 1, "s1", nil, time.Now())
		require.NoError(t, err)
		require.NoError(t, b.Publish(ctx, ev))
	}
	consume := func(b broker.Broker) (stop func()) {
		got := make(chan struct{}, 1)
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- b.Consume(cctx, broker.Consumer{Name: brokertest.Name("c"), Types: []string{typ},
				Handler: func(context.Context, events.Event) error {
					select {
					case got <- struct{}{}:
					default:
					}
					return nil
				}})
		}()
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatal("the consumer did not read the stream")
		}
		return func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(20 * time.Second):
				t.Fatal("the consumer did not stop")
			}
		}
	}

	p := open(time.Hour)
	broker.SetStreamRecheck(p, 100*time.Millisecond)
	publish(p)
	c := open(2 * time.Hour)
	broker.SetConsumerCheck(c, 100*time.Millisecond)
	stop := consume(c)
	require.Equal(t, time.Hour, maxAge())

	require.NoError(t, js.DeleteStream(ctx, stream))
	require.Eventually(t, func() bool { return maxAge() == 2*time.Hour }, 10*time.Second, 50*time.Millisecond,
		"the consumer makes the stream again")
	time.Sleep(200 * time.Millisecond)
	publish(p)
	assert.Equal(t, time.Hour, maxAge(), "the producer brings it back to its configuration")
	stop()

	// One broker, reading the stream first and then publishing to it.
	both := open(3 * time.Hour)
	stop = consume(both)
	require.Equal(t, time.Hour, maxAge(), "a consumer leaves the stream as it is")
	publish(both)
	assert.Equal(t, 3*time.Hour, maxAge(), "its publisher brings it to its configuration")
	stop()
}
