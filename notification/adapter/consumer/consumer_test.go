package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/consumer"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
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
	assert.Equal(t, "notification", sub.consumer)
	assert.Equal(t, service.Topics, sub.topics)
	for _, typ := range []string{"auth.user_registered", "auth.password_reset_requested", "appointment.booked",
		"appointment.rescheduled", "appointment.cancelled", "appointment.status_changed"} {
		ev, err := events.New(typ, 1, "s", nil, time.Now())
		require.NoError(t, err)
		assert.Contains(t, sub.topics, ev.Topic())
		require.NoError(t, sub.h(context.Background(), ev))
	}
	assert.Len(t, h.got, 6)
}

type failing struct{}

func (failing) Subscribe(context.Context, string, []string, func(context.Context, events.Event) error) error {
	return errors.New("broker down")
}

func TestRunReportsASubscriptionThatFails(t *testing.T) {
	assert.ErrorContains(t, consumer.Run(context.Background(), failing{}, &handler{}), "broker down")
}

// TestBrokerAppliesEventsAndDeadLettersMalformedOnes runs the subscriber on
// a NATS server in the test process.
func TestBrokerAppliesEventsAndDeadLettersMalformedOnes(t *testing.T) {
	srv := brokertest.Embedded(t)
	b, err := broker.Open(context.Background(), srv.URL(), broker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })

	var mu sync.Mutex
	calls := map[string]int{}
	applied := make(chan string, 10)
	h := handlerFunc(func(_ context.Context, ev events.Event) error {
		mu.Lock()
		calls[ev.Subject]++
		n := calls[ev.Subject]
		mu.Unlock()
		switch {
		case ev.Subject == "bad":
			return fmt.Errorf("%w: no email", service.ErrMalformed)
		case ev.Subject == "flaky" && n == 1:
			return errors.New("database away")
		}
		applied <- ev.Subject
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- consumer.Run(ctx, consumer.Broker{B: b}, h) }()

	publish := func(subject string) events.Event {
		ev, err := events.New(service.TypeUserRegistered, 1, subject, map[string]string{}, time.Now())
		require.NoError(t, err)
		require.Eventually(t, func() bool { return b.Publish(context.Background(), ev) == nil }, 10*time.Second, 50*time.Millisecond)
		return ev
	}
	bad := publish("bad")
	publish("flaky")
	publish("good")
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case s := <-applied:
			got[s] = true
		case <-time.After(20 * time.Second):
			t.Fatalf("applied only %v", got)
		}
	}
	var dead []broker.DeadLetter
	require.Eventually(t, func() bool {
		dead, err = b.DeadLetters(consumer.Name).List(context.Background(), 10)
		return err == nil && len(dead) == 1
	}, 20*time.Second, 50*time.Millisecond)
	assert.Equal(t, bad.ID, dead[0].ID)
	assert.Contains(t, dead[0].Reason, "malformed")
	mu.Lock()
	assert.Equal(t, 1, calls["bad"], "a malformed event is not retried")
	assert.Equal(t, 2, calls["flaky"], "a failing one is")
	mu.Unlock()

	cancel()
	select {
	case err := <-done:
		assert.NoError(t, err, "the subscription ends with its context")
	case <-time.After(20 * time.Second):
		t.Fatal("the consumer did not stop")
	}
}

func TestBrokerRefusesForeignTopics(t *testing.T) {
	err := consumer.Broker{B: broker.Disabled{}}.Subscribe(context.Background(), "n", []string{"other.x"}, nil)
	assert.Error(t, err)
}

type handlerFunc func(context.Context, events.Event) error

func (f handlerFunc) HandleEvent(ctx context.Context, ev events.Event) error { return f(ctx, ev) }
