package broker_test

import (
	"context"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
)

// A consumer's queue that disappears (an operator's delete, a node back
// without its data) is declared again, and the consumer goes on with what
// is published from then on; nothing it is handed meanwhile is an empty
// delivery taken for an event.
func TestAMQPQueueLostIsDeclaredAgain(t *testing.T) {
	url := brokertest.AMQP(t)
	f := setup(t, url)
	typ := f.producer + ".thing_done"
	var (
		mu   sync.Mutex
		got  = map[string]bool{}
		odd  []string
		seen = make(chan string, 100)
	)
	f.consume(t, broker.Consumer{Name: f.consumer, Types: []string{typ}, Concurrency: 4,
		Handler: handler(f.consumer, func(_ context.Context, ev events.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if ev.ID == "" || ev.Type != typ {
				odd = append(odd, ev.ID+" "+ev.Type)
			}
			got[ev.ID] = true
			seen <- ev.ID
			return nil
		})})

	conn, err := amqp.Dial(url)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, err = ch.QueueDelete("medisync."+typ+"_"+f.consumer, false, false, false)
	require.NoError(t, err)

	// What is published while no queue is bound is lost; publish until one
	// event arrives, then one more that must arrive too.
	deadline := time.Now().Add(30 * time.Second)
	var first string
	for first == "" && time.Now().Before(deadline) {
		ev := f.event(t, "thing_done")
		require.NoError(t, f.b.Publish(context.Background(), ev))
		select {
		case id := <-seen:
			first = id
		case <-time.After(500 * time.Millisecond):
		}
	}
	require.NotEmpty(t, first, "the consumer never received an event again")
	ev := f.event(t, "thing_done")
	require.NoError(t, f.b.Publish(context.Background(), ev))
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got[ev.ID]
	}, 10*time.Second, 20*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, odd, "no empty delivery is handled as an event")
}
