package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
)

// publishBatch stores n new events of f.producer's type name in one batch.
func (f fixture) publishBatch(t *testing.T, name string, n int) {
	t.Helper()
	bp, ok := f.b.(interface {
		PublishBatch(context.Context, []events.Event) (int, error)
	})
	require.True(t, ok, "NATS publishes batches")
	batch := make([]events.Event, n)
	for i := range batch {
		batch[i] = f.event(t, name)
	}
	stored, err := bp.PublishBatch(context.Background(), batch)
	require.NoError(t, err)
	require.Equal(t, n, stored)
}

// A NATS consumer stopped while its events are being delivered ends
// cleanly, round after round: no delivery may race the end of its
// subscriptions (under -race a report; without, a "send on closed channel"
// panic in a delivery callback, which ends the whole process).
func TestNATSConsumerStoppedWhileDeliveringEndsCleanly(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	for round := range 8 {
		f.publishBatch(t, "thing_done", 300)
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

// runAndStop starts c, publishes one event, cancels once the handler
// signalled entered, and returns how long Consume took to return after cancel.
func runAndStop(t *testing.T, f fixture, c broker.Consumer, entered <-chan struct{}) time.Duration {
	t.Helper()
	require.NoError(t, f.b.Publish(context.Background(), f.event(t, "thing_done")))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.b.Consume(ctx, c) }()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("handler never called")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(90 * time.Second):
		t.Fatal("Consume did not return")
	}
	return time.Since(start)
}

// A handler that honours its context is told to stop when its consumer stops.
func TestNATSHandlerContextEndsWithItsConsumer(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	entered := make(chan struct{}, 1)
	took := runAndStop(t, f, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"},
		Handler: func(ctx context.Context, _ events.Event) error {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}}, entered)
	require.Less(t, took, 5*time.Second, "stopping a consumer waits for a handler that waits for its context")
}

// A consumer stopping mid-retry leaves the event to be redelivered: it is
// not dead-lettered (router.go's PoisonQueue filter).
func TestNATSConsumerStoppedMidRetryDoesNotDeadLetter(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	entered := make(chan struct{}, 1)
	var calls, callsAfterReturn atomic.Int64
	var returned atomic.Bool
	took := runAndStop(t, f, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"},
		MaxAttempts: 6, Backoff: 200 * time.Millisecond,
		Handler: func(ctx context.Context, _ events.Event) error {
			if calls.Add(1) == 2 {
				entered <- struct{}{}
			}
			if returned.Load() {
				callsAfterReturn.Add(1)
			}
			return errors.New("db down")
		}}, entered)
	returned.Store(true)
	time.Sleep(2 * time.Second)
	dl, err := f.b.DeadLetters(f.consumer).List(context.Background(), 10)
	require.NoError(t, err)
	require.Empty(t, dl, "an event whose consumer stopped mid-retry was dead-lettered")
	require.Less(t, took, 5*time.Second, "the retry stops with its consumer")
	require.Zero(t, callsAfterReturn.Load(), "no handler call after Consume returned")
}

// hookLogger calls fn with every log line's key/values.
type hookLogger func(kv map[string]any)

func (h hookLogger) Log(keyvals ...any) error {
	kv := map[string]any{}
	for i := 0; i+1 < len(keyvals); i += 2 {
		kv[fmt.Sprint(keyvals[i])] = keyvals[i+1]
	}
	h(kv)
	return nil
}

var _ log.Logger = hookLogger(nil)

// The consumer's context ends while the router is still subscribing its
// topics (RunHandlers does not look at it): here, between the 3rd and 4th
// queue subscription of the second topic. The consumer should stop promptly.
func TestNATSConsumerStoppedWhileSubscribingStopsPromptly(t *testing.T) {
	srv := brokertest.Embedded(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	first := ""
	fired := false
	var cancelAt time.Time
	logger := hookLogger(func(kv map[string]any) {
		if kv["msg"] != "Starting subscriber" {
			return
		}
		topic, _ := kv["topic"].(string)
		mu.Lock()
		defer mu.Unlock()
		if first == "" {
			first = topic
		}
		if topic != first && kv["subscriber_num"] == 3 && !fired {
			fired = true
			cancelAt = time.Now()
			cancel()
			time.Sleep(200 * time.Millisecond) // the drain starts meanwhile
		}
	})
	ocx, ocancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer ocancel()
	b, err := broker.Open(ocx, srv.URL(), broker.Options{Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	require.Eventually(t, func() bool { return b.Ping(ocx) == nil }, 10*time.Second, 50*time.Millisecond)
	f := fixture{b: b, producer: brokertest.Name("p"), consumer: brokertest.Name("c")}
	var types []string
	for i := range 2 {
		name := fmt.Sprintf("thing_%d", i)
		types = append(types, f.producer+"."+name)
		f.publishBatch(t, name, 100)
	}
	done := make(chan error, 1)
	var stopped time.Time
	go func() {
		done <- f.b.Consume(ctx, broker.Consumer{Name: f.consumer, Types: types, Concurrency: 8,
			Handler: func(context.Context, events.Event) error { return nil }})
	}()
	select {
	case err := <-done:
		stopped = time.Now()
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("did not stop")
	}
	<-ctx.Done()
	mu.Lock()
	require.True(t, fired, "the context ended between two subscriptions")
	took := stopped.Sub(cancelAt)
	mu.Unlock()
	require.Less(t, took, 5*time.Second)
}

// A consumer stopped while its connection is away (reconnecting) stops promptly.
func TestNATSConsumerStoppedWhileReconnectingStopsPromptly(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	f.publishBatch(t, "thing_done", 300)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var handled atomic.Int64
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- f.b.Consume(ctx, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, Concurrency: 8,
			Handler: func(context.Context, events.Event) error {
				if handled.Add(1) == 20 {
					close(started)
				}
				time.Sleep(5 * time.Millisecond)
				return nil
			}})
	}()
	<-started
	srv.Stop()
	time.Sleep(100 * time.Millisecond)
	s := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("did not stop")
	}
	require.Less(t, time.Since(s), 5*time.Second)
	srv.Start()
}
