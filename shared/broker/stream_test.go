package broker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
)

// A producer's stream is created once and left alone by brokers of the
// same configuration; a broker with another one (a longer retention)
// updates it.
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
}
