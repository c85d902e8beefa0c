package broker

import (
	"context"
	"time"

	"github.com/medisync/medisync/shared/events"
)

// SetConsumerCheck makes the running consumers of b, a NATS broker, look
// for their durables every d; call it before Consume.
func SetConsumerCheck(b Broker, d time.Duration) { b.(*natsBroker).consumerCheck = d }

// SetStreamRecheck makes b, a NATS broker, ask again every d whether the
// streams it publishes to keep its configuration; call it before Publish.
func SetStreamRecheck(b Broker, d time.Duration) { b.(*natsBroker).streamRecheck = d }

// SetRequeueDelay makes the events b, a NATS broker, hands back come again
// after d, doubling; call it before Consume.
func SetRequeueDelay(b Broker, d time.Duration) { b.(*natsBroker).requeueFirst = d }

// ReplayTopic is where consumer's replays go.
func ReplayTopic(consumer string) string { return replayTopic(consumer) }

// DurableName is the durable of consumer on topic.
func DurableName(consumer, topic string) string { return durableName(consumer, topic) }

// Decode reads an envelope as the consumers do.
func Decode(payload []byte) (events.Event, error) { return decode(payload, "") }

// InboxPrefix is the inbox prefix of the connections of a broker of rawURL.
func InboxPrefix(rawURL string) (string, error) {
	u, err := parseNATSURL(rawURL)
	return u.inbox, err
}

// DeliverSubject is where the durable of consumer delivers.
func DeliverSubject(consumer, durable string) string { return deliverSubject(consumer, durable) }

// WatchDurables runs b's watch of c's durables on topics, as a pass of
// Consume does, until it ends the pass or ctx ends, and says why.
func WatchDurables(ctx context.Context, b Broker, c Consumer, topics []string) error {
	ctx, lost := context.WithCancelCause(ctx)
	defer lost(nil)
	b.(*natsBroker).watchDurables(ctx, lost, c, topics, true)
	return context.Cause(ctx)
}
