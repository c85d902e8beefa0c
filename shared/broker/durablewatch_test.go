package broker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
)

// A durable moved to another delivery subject while no instance was bound
// to it (an operator's edit, another release's update during an outage)
// would deliver to no one: the watch ends the pass, whose successor brings
// it back. One where the pass reads is left alone.
func TestDurableWatchEndsThePassOfADurableDeliveringElsewhere(t *testing.T) {
	srv := brokertest.Embedded(t)
	f := setup(t, srv.URL())
	broker.SetConsumerCheck(f.b, 20*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, f.b.Publish(ctx, f.event(t, "thing_done"))) // makes the stream

	nc, err := nats.Connect(srv.URL())
	require.NoError(t, err)
	defer nc.Close()
	js, err := nc.JetStream()
	require.NoError(t, err)
	stream := "MEDISYNC_" + strings.ToUpper(f.producer)
	topic := "medisync." + f.producer + ".thing_done"
	durable := broker.DurableName(f.consumer, topic)
	put := func(deliver string) {
		t.Helper()
		cfg := &nats.ConsumerConfig{Durable: durable, DeliverSubject: deliver, DeliverGroup: f.consumer,
			AckPolicy: nats.AckExplicitPolicy, FilterSubject: topic}
		// AddConsumer answers an existing durable as it is, whatever
		// its delivery subject.
		if info, err := js.AddConsumer(stream, cfg); err != nil || info.Config.DeliverSubject != deliver {
			_, err = js.UpdateConsumer(stream, cfg)
			require.NoError(t, err)
		}
	}
	c := broker.Consumer{Name: f.consumer, Types: []string{f.producer + ".thing_done"}}

	put("_deliver.medisync.elsewhere")
	err = broker.WatchDurables(ctx, f.b, c, []string{topic})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "delivers to _deliver.medisync.elsewhere")

	put(broker.DeliverSubject(f.consumer, durable))
	wctx, wcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer wcancel()
	err = broker.WatchDurables(wctx, f.b, c, []string{topic})
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "the pass goes on: %v", err)
}
