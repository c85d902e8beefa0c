package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
)

var errMalformed = errors.New("malformed event")

// A Subscriber applies what its handler accepts, retries what fails and
// dead-letters at once what the handler calls malformed, on every broker.
func TestSubscriberRetriesFailuresAndDeadLettersMalformedEvents(t *testing.T) {
	brokertest.Each(t, func(t *testing.T, url string) {
		f := setup(t, url)
		var mu sync.Mutex
		calls := map[string]int{}
		applied := make(chan string, 10)
		probed := make(chan struct{}, 1)
		h := func(_ context.Context, ev events.Event) error {
			if ev.Subject == "probe" {
				select {
				case probed <- struct{}{}:
				default:
				}
				return nil
			}
			mu.Lock()
			calls[ev.Subject]++
			n := calls[ev.Subject]
			mu.Unlock()
			switch {
			case ev.Subject == "bad":
				return fmt.Errorf("%w: no email", errMalformed)
			case ev.Subject == "flaky" && n == 1:
				return errors.New("database away")
			}
			applied <- ev.Subject
			return nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		sub := broker.Subscriber{B: f.b, Malformed: errMalformed}
		go func() { done <- sub.Subscribe(ctx, f.consumer, []string{"medisync." + f.producer + ".happened"}, h) }()

		publish := func(subject string) events.Event {
			ev, err := events.New(f.producer+".happened", 1, subject, map[string]string{}, time.Now())
			require.NoError(t, err)
			require.Eventually(t, func() bool { return f.b.Publish(context.Background(), ev) == nil }, 10*time.Second, 50*time.Millisecond)
			return ev
		}
		// A probe seen proves the subscription is in place (RabbitMQ drops
		// what is published before the consumer's queue is bound).
		probe, err := events.New(f.producer+".happened", 1, "probe", map[string]string{}, time.Now())
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			if f.b.Publish(context.Background(), probe) != nil {
				return false
			}
			select {
			case <-probed:
				return true
			case <-time.After(time.Second):
				return false
			}
		}, 30*time.Second, 10*time.Millisecond)
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
			var err error
			dead, err = f.b.DeadLetters(f.consumer).List(context.Background(), 10)
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
			t.Fatal("the subscriber did not stop")
		}
	})
}

func TestSubscriberRefusesForeignTopics(t *testing.T) {
	err := broker.Subscriber{B: broker.Disabled{}}.Subscribe(context.Background(), "n", []string{"other.x"}, nil)
	assert.ErrorContains(t, err, `topic "other.x" is not medisync.<type>`)
}
