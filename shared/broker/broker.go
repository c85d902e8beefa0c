// Package broker carries events between services: a Publisher the outbox
// relay hands events to, and consumers that run a handler once per event
// with retries, backoff and a dead-letter stream, over NATS JetStream
// (nats://) or RabbitMQ (amqp://), both through Watermill.
package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/tracing"
)

// Publisher hands an event to the broker; nil means the broker has stored it.
type Publisher interface {
	Publish(ctx context.Context, ev events.Event) error
}

// Handler applies one event. It must be idempotent (inbox.Claim): an event
// may be delivered more than once. An error makes the consumer retry; an
// error wrapped by Permanent dead-letters the event at once.
type Handler func(ctx context.Context, ev events.Event) error

// Consumer describes a durable consumer: one per consuming service, shared
// by its instances, which split the events between them.
type Consumer struct {
	// Name is the consuming service ("notification"): the durable's name
	// and the dead-letter stream's suffix (medisync.dlq.<Name>).
	Name string
	// Types are the event types it receives ("auth.user_registered").
	Types []string
	// Handler applies each event.
	Handler Handler
	// MaxAttempts is how many times an event is tried before it is
	// dead-lettered; 0 means 5.
	MaxAttempts int
	// Backoff is the wait before the first retry, doubled after each; 0
	// means 100 ms. The wait never exceeds 5 s.
	Backoff time.Duration
	// Concurrency is how many events one instance handles at once; 0 means 1.
	Concurrency int
}

func (c *Consumer) validate() error {
	if !namePattern(c.Name) {
		return fmt.Errorf("broker: consumer name %q must be lower-case letters, digits and -", c.Name)
	}
	if len(c.Types) == 0 || c.Handler == nil {
		return fmt.Errorf("broker: consumer %s needs event types and a handler", c.Name)
	}
	for _, t := range c.Types {
		if strings.Count(t, ".") != 1 || strings.ContainsAny(t, "*> ") {
			return fmt.Errorf("broker: consumer %s: %q is not an event type", c.Name, t)
		}
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 100 * time.Millisecond
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 1
	}
	return nil
}

func namePattern(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// Broker is a connection to the broker.
type Broker interface {
	Publisher
	// Consume runs c until ctx ends, then returns nil, starting it again
	// after broker outages; an error means c is invalid.
	Consume(ctx context.Context, c Consumer) error
	// DeadLetters reads and replays the dead letters of a consumer.
	DeadLetters(consumer string) DeadLetters
	// Ping reports whether the broker answers.
	Ping(ctx context.Context) error
	Close() error
}

// DeadLetter is an event a consumer gave up on.
type DeadLetter struct {
	ID       string       `json:"id"` // the event id
	Consumer string       `json:"consumer"`
	Reason   string       `json:"reason"` // the handler's last error
	Event    events.Event `json:"event"`
}

// DeadLetters is what a service's admin endpoint needs:
//
//	GET  /api/v1/<svc>/admin/dead-letters?limit=N   -> {"items": [DeadLetter...]}
//	POST /api/v1/<svc>/admin/dead-letters/{id}/replay -> 202; 404 for an unknown id
type DeadLetters interface {
	// List returns at most limit dead letters, oldest first.
	List(ctx context.Context, limit int) ([]DeadLetter, error)
	// Replay sends the dead letter with the event id back to its consumer
	// (alone: other consumers do not see it again) and removes it.
	// ErrNotFound when there is none.
	Replay(ctx context.Context, id string) error
}

// ErrNotFound is returned for an unknown dead letter.
var ErrNotFound = errors.New("broker: no such dead letter")

// ErrNotConfigured is what Disabled answers.
var ErrNotConfigured = errors.New("broker: no broker configured")

// permanent marks an error retrying cannot cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one retrying cannot cure (a malformed event): the
// event is dead-lettered without further tries.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Options tune a broker connection.
type Options struct {
	Logger log.Logger
	// Registerer receives the consumer metrics; nil registers none.
	Registerer prometheus.Registerer
	// StreamMaxAge bounds how long JetStream keeps events; 0 means 7 days.
	StreamMaxAge time.Duration
	// Tracing makes a span of each publish and each delivery handled, in
	// the trace the event carries; nil records none, the trace context
	// still passing from envelope to handler.
	Tracing *tracing.Tracing
}

// Open connects to the broker rawURL names: nats://host:4222 (several
// servers comma-separated; ?replicas=3 for a cluster's streams) or
// amqp://user:pass@host:5672/vhost. A broker that does not answer yet is
// retried in the background: publishing fails until it does.
func Open(ctx context.Context, rawURL string, o Options) (Broker, error) {
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.StreamMaxAge <= 0 {
		o.StreamMaxAge = 7 * 24 * time.Hour
	}
	u, err := url.Parse(strings.SplitN(rawURL, ",", 2)[0])
	if err != nil {
		return nil, errors.New("broker: invalid URL")
	}
	switch u.Scheme {
	case "nats", "tls":
		return openNATS(ctx, rawURL, o)
	case "amqp", "amqps":
		return openAMQP(ctx, rawURL, o)
	default:
		return nil, errors.New("broker: URL must start with nats:// or amqp://")
	}
}

// Redact returns rawURL, a URL or a comma-separated list of NATS URLs,
// without their credentials, for logs: a password is masked, and so is a
// user without one, which NATS takes as a token (nats://<token>@host). An
// AMQP URL is one URL, whose password may hold a comma; anything that does
// not parse is "(invalid)" whole, since a piece of it may be a secret.
func Redact(rawURL string) string {
	const mask = "xxxxx"
	parts := []string{rawURL}
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(rawURL)), "amqp") {
		parts = strings.Split(rawURL, ",")
	}
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			return "(invalid)"
		case u.User != nil:
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), mask)
			} else {
				u.User = url.User(mask)
			}
			parts[i] = u.String()
		case strings.Contains(u.Opaque, "@"):
			// "nats:token@host" has no "//": the credential is in the opaque part.
			u.Opaque = mask + u.Opaque[strings.LastIndex(u.Opaque, "@"):]
			parts[i] = u.String()
		default:
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}

// Subject names.
const (
	dlqPrefix    = "medisync.dlq."
	replayPrefix = "medisync.replay."
)

// DeadLetterTopic is where the events consumer gave up on go.
func DeadLetterTopic(consumer string) string { return dlqPrefix + consumer }

// replayTopic is where a replayed dead letter goes: its consumer alone reads it.
func replayTopic(consumer string) string { return replayPrefix + consumer }

// topic is the broker subject of an event type.
func topic(typ string) string { return "medisync." + typ }

// decode reads an envelope from a message payload; a traceparent carried
// beside it fills an envelope that has none. An envelope that parses but is
// refused (no id or type, an id that is not a UUID) is given back with the
// error, so that its dead letter still shows it.
func decode(payload []byte, traceparent string) (events.Event, error) {
	var ev events.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return events.Event{}, Permanent(fmt.Errorf("broker: malformed envelope: %w", err))
	}
	if ev.TraceParent == "" {
		ev.TraceParent = traceparent
	}
	if ev.ID == "" || ev.Type == "" {
		return ev, Permanent(errors.New("broker: envelope without id or type"))
	}
	// Every producer's id is ids.New()'s; the consumers' inboxes key on it
	// in 36 characters, where another id could be cut or taken for a
	// redelivery of one it shares its start with.
	if !ids.Valid(ev.ID) {
		return ev, Permanent(fmt.Errorf("broker: envelope id is not a UUID (%d bytes)", len(ev.ID)))
	}
	return ev, nil
}

// keepConsuming runs once until ctx ends, starting it again with backoff
// when it cannot start or its subscriptions end (the broker was away when
// the service started, or went away), so a consumer outlives outages.
func keepConsuming(ctx context.Context, logger log.Logger, name string, once func(ctx context.Context) error) error {
	wait := 100 * time.Millisecond
	for {
		err := once(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			_ = level.Warn(logger).Log("msg", "consumer not running; trying again", "consumer", name, "err", err, "retryInMs", logging.Millis(wait))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Disabled is the broker of a service started without one (development):
// publishing fails, so events wait in the outbox, and readiness stays up.
type Disabled struct{}

// Publish always fails: the event stays in the outbox.
func (Disabled) Publish(context.Context, events.Event) error { return ErrNotConfigured }

// Consume waits for ctx to end: nothing arrives.
func (Disabled) Consume(ctx context.Context, _ Consumer) error { <-ctx.Done(); return nil }

// DeadLetters has none.
func (Disabled) DeadLetters(string) DeadLetters { return disabledDLQ{} }

// Ping reports no fault: a service without a broker is ready by choice.
func (Disabled) Ping(context.Context) error { return nil }

// Close does nothing.
func (Disabled) Close() error { return nil }

type disabledDLQ struct{}

func (disabledDLQ) List(context.Context, int) ([]DeadLetter, error) { return nil, nil }
func (disabledDLQ) Replay(context.Context, string) error            { return ErrNotFound }
