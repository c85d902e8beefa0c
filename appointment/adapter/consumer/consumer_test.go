package consumer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/consumer"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/events"
)

// recording is a Subscriber that keeps what it was asked for.
type recording struct {
	consumer string
	topics   []string
	h        func(context.Context, events.Event) error
}

func (r *recording) Subscribe(_ context.Context, c string, topics []string, h func(context.Context, events.Event) error) error {
	r.consumer, r.topics, r.h = c, topics, h
	return nil
}

type handler struct{ got []events.Event }

func (h *handler) HandleEvent(_ context.Context, ev events.Event) error {
	h.got = append(h.got, ev)
	return nil
}

func TestRunSubscribesTheServiceToItsTopics(t *testing.T) {
	sub, h := &recording{}, &handler{}
	require.NoError(t, consumer.Run(context.Background(), sub, h))
	assert.Equal(t, "appointment", sub.consumer)
	assert.Equal(t, service.Topics, sub.topics)
	ev, err := events.New("records.encounter_signed", 1, "s", nil, time.Now())
	require.NoError(t, err)
	assert.Equal(t, []string{ev.Topic()}, sub.topics)
	require.NoError(t, sub.h(context.Background(), ev))
	assert.Len(t, h.got, 1)
}

type failing struct{}

func (failing) Subscribe(context.Context, string, []string, func(context.Context, events.Event) error) error {
	return errors.New("broker down")
}

func TestRunReportsASubscriptionThatFails(t *testing.T) {
	assert.ErrorContains(t, consumer.Run(context.Background(), failing{}, &handler{}), "broker down")
}

// The broker's subscriber dead-letters at once what the service calls
// malformed (shared/broker tests the subscriber on every broker).
func TestNewBrokerNamesTheServicesMalformedError(t *testing.T) {
	s := consumer.NewBroker(broker.Disabled{}, 3)
	assert.Equal(t, service.ErrMalformed, s.Malformed)
	assert.Equal(t, 3, s.Concurrency)
}
