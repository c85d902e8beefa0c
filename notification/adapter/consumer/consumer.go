// Package consumer subscribes the notification service to the events it
// applies, through whichever broker main opens.
package consumer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/events"
)

// Name is the durable consumer of the notification service on the broker;
// its dead letters go to medisync.dlq.notification.
const Name = "notification"

// Subscriber delivers the events of topics to h under a durable consumer,
// redelivering (with backoff, then dead-lettering) when h fails.
type Subscriber interface {
	Subscribe(ctx context.Context, consumer string, topics []string, h func(context.Context, events.Event) error) error
}

// Handler applies one event; service.Service is one.
type Handler interface {
	HandleEvent(ctx context.Context, ev events.Event) error
}

// Run subscribes h to the service's topics until ctx ends.
func Run(ctx context.Context, sub Subscriber, h Handler) error {
	if err := sub.Subscribe(ctx, Name, service.Topics, h.HandleEvent); err != nil {
		return fmt.Errorf("subscribe %s: %w", Name, err)
	}
	return nil
}

// Broker is the Subscriber over the event broker (shared/broker): a
// durable consumer that retries a failing event with backoff and
// dead-letters at once one the service calls malformed.
type Broker struct {
	B broker.Broker
	// Concurrency is how many events an instance applies at once; 0 means 1.
	Concurrency int
}

// Subscribe consumes topics ("medisync.<type>") until ctx ends.
func (b Broker) Subscribe(ctx context.Context, consumer string, topics []string, h func(context.Context, events.Event) error) error {
	types := make([]string, len(topics))
	for i, t := range topics {
		typ, ok := strings.CutPrefix(t, "medisync.")
		if !ok {
			return fmt.Errorf("topic %q is not medisync.<type>", t)
		}
		types[i] = typ
	}
	return b.B.Consume(ctx, broker.Consumer{
		Name: consumer, Types: types, Concurrency: b.Concurrency,
		Handler: func(ctx context.Context, ev events.Event) error {
			err := h(ctx, ev)
			if errors.Is(err, service.ErrMalformed) {
				return broker.Permanent(err)
			}
			return err
		},
	})
}
