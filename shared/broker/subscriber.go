package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/medisync/medisync/shared/events"
)

// Subscriber consumes the events of topics ("medisync.<type>") under a
// durable consumer: an event whose handler fails is retried with backoff,
// then dead-lettered; one whose error wraps Malformed is dead-lettered at
// once. Each consuming service gives it its durable name and its own
// malformed error.
type Subscriber struct {
	B Broker
	// Concurrency is how many events an instance applies at once; 0 means 1.
	Concurrency int
	// Malformed marks the handler's errors no retry can cure.
	Malformed error
}

// Subscribe consumes topics until ctx ends.
func (s Subscriber) Subscribe(ctx context.Context, consumer string, topics []string, h func(context.Context, events.Event) error) error {
	types := make([]string, len(topics))
	for i, t := range topics {
		typ, ok := strings.CutPrefix(t, "medisync.")
		if !ok {
			return fmt.Errorf("topic %q is not medisync.<type>", t)
		}
		types[i] = typ
	}
	return s.B.Consume(ctx, Consumer{
		Name: consumer, Types: types, Concurrency: s.Concurrency,
		Handler: func(ctx context.Context, ev events.Event) error {
			err := h(ctx, ev)
			if s.Malformed != nil && errors.Is(err, s.Malformed) {
				return Permanent(err)
			}
			return err
		},
	})
}
