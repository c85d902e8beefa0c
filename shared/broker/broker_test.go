package broker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/tracing"
)

// recorder collects what a handler saw, by event id.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	seen  map[string]events.Event
	ch    chan string
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, seen: map[string]events.Event{}, ch: make(chan string, 1000)}
}

func (r *recorder) record(ev events.Event) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[ev.ID]++
	r.seen[ev.ID] = ev
	return r.calls[ev.ID]
}

func (r *recorder) count(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

// await waits for n ids to be reported on the channel.
func (r *recorder) await(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case id := <-r.ch:
			got = append(got, id)
		case <-deadline:
			t.Fatalf("got %d of %d events", len(got), n)
		}
	}
	return got
}

type fixture struct {
	b        broker.Broker
	producer string // a fresh producer service name: its own stream
	consumer string
}

func setup(t *testing.T, url string) fixture {
	t.Helper()
	return setupLogged(t, url, nil)
}

// setupLogged is setup with the broker's lines going to logger.
func setupLogged(t *testing.T, url string, logger log.Logger) fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, url, broker.Options{Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	require.Eventually(t, func() bool { return b.Ping(ctx) == nil }, 10*time.Second, 50*time.Millisecond)
	return fixture{b: b, producer: brokertest.Name("p"), consumer: brokertest.Name("c")}
}

func (f fixture) event(t *testing.T, name string) events.Event {
	t.Helper()
	ev, err := events.New(f.producer+"."+name, 1, "s1", map[string]string{"k": "v"}, time.Now())
	require.NoError(t, err)
	ev.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	return ev
}

// consume runs c in the background until the test ends, and waits until
// its subscriptions are in place.
func (f fixture) consume(t *testing.T, c broker.Consumer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.b.Consume(ctx, c) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("consumer did not stop")
		}
	})
	// A probe through the consumer's own types proves it is subscribed
	// (sent again, in case the first went before its queue existed).
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		probe := f.event(t, c.Types[0][len(f.producer)+1:])
		probe.Subject = "probe"
		require.NoError(t, f.b.Publish(context.Background(), probe))
		for {
			select {
			case id := <-probeSeen(c):
				if id == probe.ID {
					return
				}
				continue
			case err := <-done:
				t.Fatalf("consumer ended: %v", err)
			case <-deadline:
				t.Fatal("consumer never subscribed")
			case <-tick.C:
			}
			break
		}
	}
}

var probes sync.Map // consumer name -> chan string

func probeSeen(c broker.Consumer) chan string {
	ch, _ := probes.LoadOrStore(c.Name, make(chan string, 1))
	return ch.(chan string)
}

// handler wraps fn so that probes are answered, not recorded.
func handler(name string, fn broker.Handler) broker.Handler {
	return func(ctx context.Context, ev events.Event) error {
		if ev.Subject == "probe" {
			select {
			case probeSeen(broker.Consumer{Name: name}) <- ev.ID:
			default: // nobody waits for it any more
			}
			return nil
		}
		return fn(ctx, ev)
	}
}

func TestContract(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, url string) {
		t.Run("delivers events whole, with their trace context", func(t *testing.T) {
			f := setup(t, url)
			rec := newRecorder()
			f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done", f.producer + ".other_done"},
				Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
					rec.record(ev)
					rec.ch <- ev.ID
					return nil
				})})
			sent := map[string]events.Event{}
			for i := 0; i < 20; i++ {
				name := "thing_done"
				if i%2 == 1 {
					name = "other_done"
				}
				ev := f.event(t, name)
				sent[ev.ID] = ev
				require.NoError(t, f.b.Publish(context.Background(), ev))
			}
			rec.await(t, 20)
			for id, ev := range sent {
				got := rec.seen[id]
				assert.Equal(t, ev.Type, got.Type)
				assert.JSONEq(t, string(ev.Data), string(got.Data))
				assert.Equal(t, ev.TraceParent, got.TraceParent)
				assert.True(t, ev.Time.Equal(got.Time))
			}
		})

		t.Run("a failing event is retried until it succeeds", func(t *testing.T) {
			f := setup(t, url)
			rec := newRecorder()
			f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 5, Backoff: time.Millisecond,
				Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
					if rec.record(ev) < 3 {
						return errors.New("database away")
					}
					rec.ch <- ev.ID
					return nil
				})})
			ev := f.event(t, "thing_done")
			require.NoError(t, f.b.Publish(context.Background(), ev))
			rec.await(t, 1)
			assert.Equal(t, 3, rec.count(ev.ID))
			dl, err := f.b.DeadLetters(f.consumer).List(context.Background(), 10)
			require.NoError(t, err)
			assert.Empty(t, dl)
		})

		t.Run("an event whose dependency is down is never dead-lettered: it comes again until it applies", func(t *testing.T) {
			f := setup(t, url)
			if strings.HasPrefix(url, "nats") {
				broker.SetRequeueDelay(f.b, 20*time.Millisecond)
			}
			rec := newRecorder()
			f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 2, Backoff: time.Millisecond,
				Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
					if rec.record(ev) <= 5 {
						return fmt.Errorf("claim: %w", domainerr.New(domainerr.Unavailable, "the database is restarting"))
					}
					rec.ch <- ev.ID
					return nil
				})})
			ev := f.event(t, "thing_done")
			require.NoError(t, f.b.Publish(context.Background(), ev))
			rec.await(t, 1)
			assert.Equal(t, 6, rec.count(ev.ID), "tried past MaxAttempts, then applied")
			dl, err := f.b.DeadLetters(f.consumer).List(context.Background(), 10)
			require.NoError(t, err)
			assert.Empty(t, dl)
		})

		t.Run("a poison event is dead-lettered, the stream flows on, and a replay reaches its consumer alone", func(t *testing.T) {
			f := setup(t, url)
			rec := newRecorder()
			var mu sync.Mutex
			poisoned := map[string]bool{}
			f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 3, Backoff: time.Millisecond,
				Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
					rec.record(ev)
					mu.Lock()
					bad := poisoned[ev.ID]
					mu.Unlock()
					if bad {
						return errors.New("cannot apply")
					}
					rec.ch <- ev.ID
					return nil
				})})
			other := brokertest.Name("o")
			otherRec := newRecorder()
			f.consume(t, broker.Consumer{Name: other, Types: []string{f.producer + ".thing_done"},
				Handler: handler(other, func(_ context.Context, ev events.Event) error {
					otherRec.record(ev)
					otherRec.ch <- ev.ID
					return nil
				})})

			bad := f.event(t, "thing_done")
			mu.Lock()
			poisoned[bad.ID] = true
			mu.Unlock()
			require.NoError(t, f.b.Publish(context.Background(), bad))
			good := f.event(t, "thing_done")
			require.NoError(t, f.b.Publish(context.Background(), good))
			assert.Equal(t, []string{good.ID}, rec.await(t, 1), "the event after the poison one is handled")
			otherRec.await(t, 2)

			dlq := f.b.DeadLetters(f.consumer)
			var list []broker.DeadLetter
			require.Eventually(t, func() bool {
				var err error
				list, err = dlq.List(context.Background(), 10)
				return err == nil && len(list) == 1
			}, 10*time.Second, 50*time.Millisecond)
			assert.Equal(t, bad.ID, list[0].ID)
			assert.Equal(t, bad.Type, list[0].Event.Type)
			assert.Contains(t, list[0].Reason, "cannot apply")
			assert.Equal(t, 3, rec.count(bad.ID), "tried MaxAttempts times")
			again, err := dlq.List(context.Background(), 10)
			require.NoError(t, err)
			assert.Len(t, again, 1, "listing leaves the dead letters in place")
			otherDL, err := f.b.DeadLetters(other).List(context.Background(), 10)
			require.NoError(t, err)
			assert.Empty(t, otherDL)

			assert.ErrorIs(t, dlq.Replay(context.Background(), "0190d3c8-0000-7000-8000-000000000000"), broker.ErrNotFound)
			mu.Lock()
			poisoned[bad.ID] = false
			mu.Unlock()
			require.NoError(t, dlq.Replay(context.Background(), bad.ID))
			assert.Equal(t, []string{bad.ID}, rec.await(t, 1))
			list, err = dlq.List(context.Background(), 10)
			require.NoError(t, err)
			assert.Empty(t, list, "a replayed dead letter is gone")
			assert.Equal(t, 1, otherRec.count(bad.ID), "the other consumer does not see the replay")
		})

		t.Run("a permanent failure is dead-lettered at once", func(t *testing.T) {
			f := setup(t, url)
			rec := newRecorder()
			f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 5, Backoff: time.Millisecond,
				Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
					rec.record(ev)
					return broker.Permanent(errors.New("unknown schema version"))
				})})
			ev := f.event(t, "thing_done")
			require.NoError(t, f.b.Publish(context.Background(), ev))
			require.Eventually(t, func() bool {
				list, err := f.b.DeadLetters(f.consumer).List(context.Background(), 10)
				return err == nil && len(list) == 1
			}, 10*time.Second, 50*time.Millisecond)
			assert.Equal(t, 1, rec.count(ev.ID))
		})

		t.Run("lines about a consumed event carry its trace and event id", func(t *testing.T) {
			logs := &lockedBuf{}
			f := setupLogged(t, url, log.NewLogfmtLogger(logs))
			if strings.HasPrefix(url, "nats") {
				broker.SetRequeueDelay(f.b, 20*time.Millisecond)
			}
			rec := newRecorder()
			f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done", f.producer + ".bad_done"},
				MaxAttempts: 2, Backoff: time.Millisecond,
				Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
					n := rec.record(ev)
					switch {
					case ev.Type == f.producer+".bad_done":
						return broker.Permanent(errors.New("unknown schema version"))
					case n <= 2: // past MaxAttempts, so that every broker hands it back
						return domainerr.New(domainerr.Unavailable, "the database is restarting")
					}
					rec.ch <- ev.ID
					return nil
				})})
			back := f.event(t, "thing_done")
			require.NoError(t, f.b.Publish(context.Background(), back))
			rec.await(t, 1)
			dead := f.event(t, "bad_done")
			dead.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
			require.NoError(t, f.b.Publish(context.Background(), dead))
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), "event dead-lettered") },
				10*time.Second, 50*time.Millisecond)

			// Watermill's router writes its own line about the handed-back
			// event; it names the event too.
			for _, c := range []struct {
				msg string
				ev  events.Event
			}{{"event handed back", back}, {"Handler returned error", back}, {"event dead-lettered", dead}} {
				var line string
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(l, c.msg) {
						line = l
					}
				}
				require.NotEmpty(t, line, "no %q line:\n%s", c.msg, logs.String())
				assert.Contains(t, line, "traceId="+strings.Split(c.ev.TraceParent, "-")[1], line)
				assert.Contains(t, line, "eventId="+c.ev.ID, line)
			}
		})

		t.Run("instances of one consumer share the events", func(t *testing.T) {
			f := setup(t, url)
			rec := newRecorder()
			h := handler(f.consumer, func(_ context.Context, ev events.Event) error {
				rec.record(ev)
				rec.ch <- ev.ID
				return nil
			})
			c := broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, Handler: h, Concurrency: 2}
			f.consume(t, c)
			second := setup(t, url)
			second.producer, second.consumer = f.producer, f.consumer
			second.consume(t, c)
			for i := 0; i < 30; i++ {
				require.NoError(t, f.b.Publish(context.Background(), f.event(t, "thing_done")))
			}
			got := rec.await(t, 30)
			seen := map[string]bool{}
			for _, id := range got {
				assert.False(t, seen[id], "delivered once across instances")
				seen[id] = true
			}
		})
	})
}

// A handler that panics is tried MaxAttempts times, as one that fails is,
// and its event then goes to the dead letters instead of coming back for
// ever.
func TestPanickingHandlerIsDeadLettered(t *testing.T) {
	f := setup(t, brokertest.Embedded(t).URL())
	var calls atomic.Int64
	f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 3, Backoff: time.Millisecond,
		Handler: handler(f.consumer, func(context.Context, events.Event) error {
			calls.Add(1)
			panic("assignment to entry in nil map")
		})})
	ev := f.event(t, "thing_done")
	require.NoError(t, f.b.Publish(context.Background(), ev))
	var list []broker.DeadLetter
	deadline := time.Now().Add(10 * time.Second)
	for len(list) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("not dead-lettered; the handler ran %d times", calls.Load())
		}
		time.Sleep(50 * time.Millisecond)
		var err error
		list, err = f.b.DeadLetters(f.consumer).List(context.Background(), 10)
		require.NoError(t, err)
	}
	assert.Equal(t, ev.ID, list[0].ID)
	assert.Contains(t, list[0].Reason, "assignment to entry in nil map")
	time.Sleep(100 * time.Millisecond) // a redelivery would show by now
	assert.Equal(t, int64(3), calls.Load(), "tried MaxAttempts times")
}

// Each attempt of a panicking handler ends its span, marked failed by the
// panic, so traces show the failures rather than spans that never end.
func TestPanickingHandlerEndsItsSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	b, err := broker.Open(context.Background(), brokertest.Embedded(t).URL(), broker.Options{Tracing: tracing.New(tp)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	f := fixture{b: b, producer: brokertest.Name("p"), consumer: brokertest.Name("c")}
	f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 2, Backoff: time.Millisecond,
		Handler: handler(f.consumer, func(context.Context, events.Event) error { panic("nil map") })})
	ev := f.event(t, "thing_done")
	require.NoError(t, f.b.Publish(context.Background(), ev))
	require.Eventually(t, func() bool {
		list, err := f.b.DeadLetters(f.consumer).List(context.Background(), 10)
		return err == nil && len(list) > 0
	}, 10*time.Second, 50*time.Millisecond, "dead-lettered")

	ofEvent := func(spans []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
		var out []sdktrace.ReadOnlySpan
		for _, s := range spans {
			for _, a := range s.Attributes() {
				if s.SpanKind() == trace.SpanKindConsumer && a.Key == semconv.MessagingMessageIDKey && a.Value.AsString() == ev.ID {
					out = append(out, s)
				}
			}
		}
		return out
	}
	ended := ofEvent(rec.Ended())
	require.Len(t, ended, 2, "one span per attempt, each ended")
	for _, s := range ended {
		assert.Equal(t, codes.Error, s.Status().Code)
		assert.Contains(t, s.Status().Description, "nil map")
	}
}

func TestOpenRefusesOtherSchemes(t *testing.T) {
	for _, u := range []string{"", "http://x", "redis://127.0.0.1", "nats://127.0.0.1:4222?replicas=9"} {
		_, err := broker.Open(context.Background(), u, broker.Options{})
		assert.Error(t, err, u)
	}
}

func TestRedactHidesPasswords(t *testing.T) {
	assert.Equal(t, "amqp://guest:xxxxx@127.0.0.1:5672/", broker.Redact("amqp://guest:secret@127.0.0.1:5672/"))
}

// TestRedactHidesANATSToken: NATS takes token authentication as the user
// part of the URL (nats://<token>@host:4222; nats.go uses a user without a
// password as the token). appdb logs the broker URL through Redact at every
// start ("broker configured"), so the token must not survive it, as an
// AMQP password does not.
func TestRedactHidesANATSToken(t *testing.T) {
	for _, raw := range []string{
		"nats://s3cr3t-broker-token@nats:4222",
		"nats://nats-0:4222,nats://s3cr3t-broker-token@nats-1:4222",
		"amqp://medisync:s3cr3t-broker-token@rabbit:5672/",
	} {
		if got := broker.Redact(raw); strings.Contains(got, "s3cr3t-broker-token") {
			t.Errorf("Redact(%q) = %q: the credential is logged", raw, got)
		}
	}
	assert.Equal(t, "nats://xxxxx@nats:4222", broker.Redact("nats://s3cr3t-broker-token@nats:4222"))
	assert.Equal(t, "nats://nats-0:4222,nats://xxxxx@nats-1:4222",
		broker.Redact("nats://nats-0:4222,nats://s3cr3t-broker-token@nats-1:4222"))
	assert.Equal(t, "nats://medisync:xxxxx@nats:4222", broker.Redact("nats://medisync:s3cr3t-broker-token@nats:4222"))
	assert.Equal(t, "nats:xxxxx@nats:4222", broker.Redact("nats:s3cr3t-broker-token@nats:4222"))
}

// Only an envelope id as every producer makes it (ids.New) is read; any
// other, too long for the consumers' inboxes or not a UUID, is refused for
// good, dead-lettered rather than cut to another event's claim.
func TestDecodeRefusesAnIdThatIsNotAUUID(t *testing.T) {
	ev, err := events.New("p.thing_done", 1, "s1", nil, time.Now())
	require.NoError(t, err)
	body, err := json.Marshal(ev)
	require.NoError(t, err)
	got, err := broker.Decode(body)
	require.NoError(t, err)
	assert.Equal(t, ev.ID, got.ID)

	for _, id := range []string{ev.ID + "-second", "e1", strings.Repeat("x", 36), ""} {
		got, err := broker.Decode([]byte(`{"id":"` + id + `","type":"p.thing_done"}`))
		require.Error(t, err, id)
		assert.True(t, broker.IsPermanent(err), id)
		// Given back, so that its dead letter shows it.
		assert.Equal(t, "p.thing_done", got.Type, id)
		assert.Equal(t, id, got.ID)
	}
	_, err = broker.Decode([]byte(`{"id":`))
	assert.True(t, broker.IsPermanent(err))
}

func TestPermanent(t *testing.T) {
	base := errors.New("x")
	assert.True(t, broker.IsPermanent(broker.Permanent(base)))
	assert.ErrorIs(t, broker.Permanent(base), base)
	assert.False(t, broker.IsPermanent(base))
	assert.Nil(t, broker.Permanent(nil))
}

func TestConsumerNeedsANameTypesAndAHandler(t *testing.T) {
	var d broker.Disabled
	ctx := context.Background()
	b, err := broker.Open(ctx, brokertest.NATS(t), broker.Options{})
	require.NoError(t, err)
	defer b.Close()
	h := func(context.Context, events.Event) error { return nil }
	for _, c := range []broker.Consumer{
		{Name: "", Types: []string{"a.b"}, Handler: h},
		{Name: "Bad.Name", Types: []string{"a.b"}, Handler: h},
		{Name: "ok", Handler: h},
		{Name: "ok", Types: []string{"a.>"}, Handler: h},
		{Name: "ok", Types: []string{"a.b"}},
	} {
		assert.Error(t, b.Consume(ctx, c), "%+v", c)
	}
	assert.ErrorIs(t, d.Publish(ctx, events.Event{}), broker.ErrNotConfigured)
	assert.NoError(t, d.Ping(ctx))
}

// Retries wait Backoff, doubled after each try: 0.1, 0.2 and 0.4 s here,
// give or take a fifth, and no longer (watermill's own Retry skipped every
// other step of its backoff: 0.2, 0.8 and 3.2 s).
func TestRetriesWaitTheirBackoffDoubling(t *testing.T) {
	f := setup(t, brokertest.Embedded(t).URL())
	var (
		mu    sync.Mutex
		tries []time.Time
	)
	dead := make(chan struct{})
	f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 4, Backoff: 100 * time.Millisecond,
		Handler: handler(f.consumer, func(context.Context, events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			tries = append(tries, time.Now())
			if len(tries) == 4 {
				close(dead)
			}
			return errors.New("cannot apply")
		})})
	require.NoError(t, f.b.Publish(context.Background(), f.event(t, "thing_done")))
	select {
	case <-dead:
	case <-time.After(20 * time.Second):
		t.Fatal("the event was not tried four times")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		assert.GreaterOrEqual(t, tries[i+1].Sub(tries[i]), want*3/4, "wait %d", i+1)
	}
	assert.Less(t, tries[3].Sub(tries[0]), 2500*time.Millisecond, "0.7 s of waits in all, not 4.2 s")
}

// On NATS a fault that passes goes back to the broker at its first failure,
// to come again after a pause, instead of being tried again in the worker
// while the events buffered behind it outlive their AckWait.
func TestNATSHandsAFaultBackAtOnce(t *testing.T) {
	f := setup(t, brokertest.Embedded(t).URL())
	broker.SetRequeueDelay(f.b, 300*time.Millisecond)
	rec := newRecorder()
	var (
		mu    sync.Mutex
		tries []time.Time
	)
	f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 5, Backoff: time.Millisecond,
		Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
			mu.Lock()
			tries = append(tries, time.Now())
			mu.Unlock()
			if rec.record(ev) == 1 {
				return domainerr.New(domainerr.Unavailable, "the database is restarting")
			}
			rec.ch <- ev.ID
			return nil
		})})
	ev := f.event(t, "thing_done")
	require.NoError(t, f.b.Publish(context.Background(), ev))
	rec.await(t, 1)
	assert.Equal(t, 2, rec.count(ev.ID), "one try a delivery")
	mu.Lock()
	defer mu.Unlock()
	assert.GreaterOrEqual(t, tries[1].Sub(tries[0]), 250*time.Millisecond, "delivered again after the pause")
}
