package broker_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
)

// An envelope the consumers refuse (here, well formed but for an id that
// is not a UUID) is dead-lettered with its event shown, under an id of the
// dead letter's own; replayed, it goes back as it was and is dead-lettered
// again, never replaced by an empty envelope while its dead letter goes.
func TestUnreadableDeadLetterKeepsItsEventThroughAReplay(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, url string) {
		f := setup(t, url)
		typ := f.producer + ".thing_done"
		var mu sync.Mutex
		var handled []string
		f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{typ}, MaxAttempts: 1,
			Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
				mu.Lock()
				defer mu.Unlock()
				handled = append(handled, ev.ID)
				return nil
			})})
		bad := f.event(t, "thing_done")
		bad.ID = "evt-42"
		require.NoError(t, f.b.Publish(context.Background(), bad))

		dlq := f.b.DeadLetters(f.consumer)
		// listed waits for the one dead letter of bad, under an id other than skip.
		listed := func(skip string) broker.DeadLetter {
			t.Helper()
			var got []broker.DeadLetter
			require.Eventually(t, func() bool {
				var err error
				got, err = dlq.List(context.Background(), 10)
				return err == nil && len(got) == 1 && got[0].ID != skip
			}, 20*time.Second, 50*time.Millisecond, "dead letters: %+v", got)
			dl := got[0]
			assert.Equal(t, bad.ID, dl.Event.ID)
			assert.Equal(t, typ, dl.Event.Type)
			assert.Equal(t, "s1", dl.Event.Subject)
			assert.JSONEq(t, `{"k":"v"}`, string(dl.Event.Data))
			assert.Contains(t, dl.Reason, "not a UUID")
			assert.NotEmpty(t, dl.ID)
			assert.NotEqual(t, bad.ID, dl.ID, "an unreadable dead letter has an id of its own")
			return dl
		}
		first := listed("")
		require.NoError(t, dlq.Replay(context.Background(), first.ID))
		again := listed(first.ID)
		assert.Equal(t, first.Event, again.Event, "the replay carried the event as dead-lettered")
		mu.Lock()
		defer mu.Unlock()
		assert.NotContains(t, handled, bad.ID, "the handler never sees an envelope refused")
	})
}

// On NATS, a dead letter that cannot be read as an event, a well-formed
// envelope with an id that is not a UUID or a payload that is no envelope
// at all, is replayed byte for byte, the first listed with its event.
func TestNATSUnreadableDeadLetterIsReplayedAsItWas(t *testing.T) {
	srv := brokertest.Embedded(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := broker.Open(ctx, srv.URL(), broker.Options{})
	require.NoError(t, err)
	defer b.Close()
	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	consumer := brokertest.Name("c")
	_, err = b.DeadLetters(consumer).List(ctx, 10) // makes the stream
	require.NoError(t, err)
	nonUUID := `{"specversion":"1.0","id":"evt-42","type":"p.thing_done","source":"p","subject":"s1","data":{"k":"v"}}`
	malformed := `{"id":`
	for _, p := range []string{nonUUID, malformed} {
		_, err = js.Publish(ctx, broker.DeadLetterTopic(consumer), []byte(p))
		require.NoError(t, err)
	}

	list, err := b.DeadLetters(consumer).List(ctx, 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "seq-", list[0].ID[:4])
	assert.Equal(t, "p.thing_done", list[0].Event.Type, "the listing shows the dead letter's event")
	assert.Equal(t, "evt-42", list[0].Event.ID)
	assert.Equal(t, "seq-", list[1].ID[:4])
	assert.Empty(t, list[1].Event.Type, "nothing of a malformed envelope is shown")

	sub, err := nc.SubscribeSync(broker.ReplayTopic(consumer))
	require.NoError(t, err)
	for i, want := range []string{nonUUID, malformed} {
		require.NoError(t, b.DeadLetters(consumer).Replay(ctx, list[i].ID))
		msg, err := sub.NextMsg(5 * time.Second)
		require.NoError(t, err)
		assert.Equal(t, want, string(msg.Data), "the replay carries the dead letter's payload unchanged")
	}
}

// The line about an envelope refused before any handler saw it names the
// event by its message id, which is the event's.
func TestUnreadableEventDeadLetteredIsLoggedWithItsEventID(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, url string) {
		logs := &lockedBuf{}
		f := setupLogged(t, url, log.NewLogfmtLogger(logs))
		f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}, MaxAttempts: 1,
			Handler: handler(f.consumer, func(context.Context, events.Event) error { return nil })})
		bad := f.event(t, "thing_done")
		bad.ID = "evt-42"
		require.NoError(t, f.b.Publish(context.Background(), bad))
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "event dead-lettered") },
			20*time.Second, 50*time.Millisecond)
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "event dead-lettered") {
				assert.Contains(t, l, "eventId=evt-42", l)
			}
		}
	})
}
