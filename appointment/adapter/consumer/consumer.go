// Package consumer subscribes the appointment service to the events it
// applies, through whichever broker main opens.
package consumer

import (
	"context"
	"fmt"

	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/events"
)

// Name is the durable consumer of the appointment service on the broker;
// its dead letters go to medisync.dlq.appointment.
const Name = "appointment"

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

// NewBroker returns the Subscriber over the event broker, which
// dead-letters at once an event the service calls malformed; concurrency
// is how many events an instance applies at once (0 means 1).
func NewBroker(b broker.Broker, concurrency int) broker.Subscriber {
	return broker.Subscriber{B: b, Concurrency: concurrency, Malformed: service.ErrMalformed}
}
