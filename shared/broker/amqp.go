package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/tracing"
)

// amqpBroker publishes and consumes through RabbitMQ (AMQP 0-9-1): a
// durable fanout exchange per event type (named as the NATS subject), a
// durable queue per consumer and type (<type subject>_<consumer>) shared by
// the consumer's instances, persistent messages and publisher confirms.
// Unlike a JetStream stream, an exchange keeps nothing for a queue that
// does not exist yet: a consumer's queues exist from its first start on.
type amqpBroker struct {
	url     string
	conn    *wmamqp.ConnectionWrapper
	pub     *wmamqp.Publisher
	o       Options
	metrics *consumerMetrics
}

func amqpConfig(url, consumer string) wmamqp.Config {
	gen := wmamqp.GenerateQueueNameTopicName
	if consumer != "" {
		gen = wmamqp.GenerateQueueNameTopicNameWithSuffix(consumer)
	}
	cfg := wmamqp.NewDurablePubSubConfig(url, gen)
	cfg.Publish.ConfirmDelivery = true
	cfg.Publish.ChannelPoolSize = 8
	cfg.Consume.Qos.PrefetchCount = 64
	return cfg
}

func openAMQP(_ context.Context, rawURL string, o Options) (*amqpBroker, error) {
	if strings.Contains(rawURL, ",") {
		return nil, errors.New("broker: amqp takes one URL")
	}
	cfg := amqpConfig(rawURL, "")
	conn, err := wmamqp.NewConnection(cfg.Connection, watermillLogger{o.Logger})
	if err != nil {
		return nil, fmt.Errorf("broker: connect to amqp %s: %w", Redact(rawURL), errors.Unwrap(err))
	}
	pub, err := wmamqp.NewPublisherWithConnection(cfg, watermillLogger{o.Logger}, conn)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("broker: amqp publisher: %w", err)
	}
	return &amqpBroker{url: rawURL, conn: conn, pub: pub, o: o, metrics: newConsumerMetrics(o.Registerer)}, nil
}

// Publish sends ev to its type's exchange and waits for the confirm.
func (b *amqpBroker) Publish(ctx context.Context, ev events.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, span := startPublish(ctx, b.o.Tracing.Tracer(), systemAMQP, ev)
	err := b.publish(ctx, ev)
	endSpan(span, err)
	return err
}

func (b *amqpBroker) publish(ctx context.Context, ev events.Event) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("broker: encode %s: %w", ev.Type, err)
	}
	if err := b.pub.Publish(ev.Topic(), toMessage(ev, payload, tracing.TraceParent(ctx))); err != nil {
		return fmt.Errorf("broker: publish %s: %w", ev.Type, err)
	}
	return nil
}

// Consume declares c's queues and its dead-letter queue, then runs c until
// ctx ends.
func (b *amqpBroker) Consume(ctx context.Context, c Consumer) error {
	if err := c.validate(); err != nil {
		return err
	}
	return keepConsuming(ctx, b.o.Logger, c.Name, func(ctx context.Context) error { return b.consumeOnce(ctx, c) })
}

func (b *amqpBroker) consumeOnce(ctx context.Context, c Consumer) error {
	if err := b.declareDLQ(c.Name); err != nil {
		return err
	}
	topics := make([]string, 0, len(c.Types)+1)
	for _, t := range c.Types {
		topics = append(topics, topic(t))
	}
	topics = append(topics, replayTopic(c.Name))
	cfg := amqpConfig(b.url, c.Name)
	cfg.Consume.Qos.PrefetchCount = 2 * c.Concurrency
	sub, err := wmamqp.NewSubscriberWithConnection(cfg, watermillLogger{b.o.Logger}, b.conn)
	if err != nil {
		return fmt.Errorf("broker: amqp subscriber %s: %w", c.Name, err)
	}
	for _, t := range topics {
		// Declared before Consume runs the router, so what is published
		// from now on waits in the consumer's queues.
		if err := sub.SubscribeInitialize(t); err != nil {
			return fmt.Errorf("broker: amqp queue %s: %w", t, err)
		}
	}
	// Not closed: it would close the shared connection; the router's end
	// stops its consumers.
	var s message.Subscriber = sub
	if c.Concurrency > 1 {
		s = fanIn{sub, c.Concurrency}
	}
	// RabbitMQ requeues at once, without a pause: a fault that passes is
	// tried here with its backoff first, then handed back.
	return runRouter(ctx, c, s, amqpDeadLetterPublisher{b.pub}, topics, false, b.o.Logger, b.metrics, b.o.Tracing.Tracer())
}

// amqpDeadLetterPublisher gives each dead letter a message id of its own,
// which names it when its envelope cannot be read (amqpDLQ.walk): the
// event's id may be missing, or shared with another dead letter.
type amqpDeadLetterPublisher struct{ message.Publisher }

func (p amqpDeadLetterPublisher) Publish(topic string, msgs ...*message.Message) error {
	for _, m := range msgs {
		m.UUID = watermill.NewUUID()
	}
	return p.Publisher.Publish(topic, msgs...)
}

// fanIn subscribes n times to a topic, so n messages are handled at once.
type fanIn struct {
	sub *wmamqp.Subscriber
	n   int
}

func (f fanIn) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	out := make(chan *message.Message)
	done := make(chan struct{})
	for i := 0; i < f.n; i++ {
		ch, err := f.sub.Subscribe(ctx, topic)
		if err != nil {
			return nil, err
		}
		go func() {
			defer func() { done <- struct{}{} }()
			for m := range ch {
				out <- m
			}
		}()
	}
	go func() {
		for i := 0; i < f.n; i++ {
			<-done
		}
		close(out)
	}()
	return out, nil
}

func (f fanIn) Close() error { return nil }

// declareDLQ makes the dead-letter exchange and its queue, named as the
// topic, so PoisonQueue's messages are kept until an admin reads them.
func (b *amqpBroker) declareDLQ(consumer string) error {
	sub, err := wmamqp.NewSubscriberWithConnection(amqpConfig(b.url, ""), watermillLogger{b.o.Logger}, b.conn)
	if err != nil {
		return fmt.Errorf("broker: dead letters of %s: %w", consumer, err)
	}
	if err := sub.SubscribeInitialize(DeadLetterTopic(consumer)); err != nil {
		return fmt.Errorf("broker: dead letters of %s: %w", consumer, err)
	}
	return nil
}

// Ping reports the connection's state.
func (b *amqpBroker) Ping(context.Context) error {
	if !b.conn.IsConnected() {
		return errors.New("broker: amqp not connected")
	}
	return nil
}

func (b *amqpBroker) Close() error {
	if err := b.pub.Close(); err != nil {
		return fmt.Errorf("broker: close amqp: %w", err)
	}
	return nil
}

// DeadLetters reads the queue medisync.dlq.<consumer>.
func (b *amqpBroker) DeadLetters(consumer string) DeadLetters {
	return amqpDLQ{b: b, consumer: consumer}
}

type amqpDLQ struct {
	b        *amqpBroker
	consumer string
}

// session opens a connection of the request's own for an administrator's
// reading of dead letters, bound to ctx: when ctx ends its socket closes,
// so that whatever waits on a broker that does not answer (the handshake,
// a declaration, a Get, a confirm) returns at once, rather than when
// amqp091 gives the connection up after three missed heartbeats, and the
// request answers within its deadline. The shared connection is not used:
// a hung broker would hold it too. release closes the connection.
func (d amqpDLQ) session(ctx context.Context) (ch *amqp.Channel, release func(), err error) {
	var raw net.Conn
	var unbind func() bool
	dial := func(network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		// As amqp.DefaultDial: the handshake has a deadline, which amqp091
		// clears once the connection is open.
		if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			_ = c.Close()
			return nil, err
		}
		raw, unbind = c, context.AfterFunc(ctx, func() { _ = c.Close() })
		return c, nil
	}
	conn, err := amqp.DialConfig(d.b.url, amqp.Config{Dial: dial})
	if err != nil {
		if raw != nil {
			unbind()
			_ = raw.Close()
		}
		return nil, nil, d.failed(ctx, err)
	}
	release = func() {
		// Closing waits for the broker's answer, or for ctx's end.
		_ = conn.Close()
		unbind()
	}
	ch, err = conn.Channel()
	if err != nil {
		release()
		return nil, nil, d.failed(ctx, err)
	}
	// Declared as the consumer declares it (declareDLQ), on this
	// connection: the queue exists before the first dead letter.
	cfg := amqpConfig(d.b.url, "")
	q := DeadLetterTopic(d.consumer)
	if err := cfg.TopologyBuilder.BuildTopology(ch, wmamqp.BuildTopologyParams{
		Topic: q, QueueName: cfg.Queue.GenerateName(q), ExchangeName: cfg.Exchange.GenerateName(q),
		RoutingKey: cfg.QueueBind.GenerateRoutingKey(q),
	}, cfg, watermillLogger{d.b.o.Logger}); err != nil {
		release()
		return nil, nil, d.failed(ctx, err)
	}
	return ch, release, nil
}

// failed wraps err, or ctx's error once ctx has ended: the closed
// connection that ending caused is no fault of the broker's to report.
func (d amqpDLQ) failed(ctx context.Context, err error) error {
	return fmt.Errorf("broker: dead letters of %s: %w", d.consumer, ctxOr(ctx, err))
}

func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// walk gets the dead letters one by one without acknowledging them, calls
// fn on each, with its payload as dead-lettered, until it returns true
// (take: acknowledged, so removed) or the queue is read, then gives the
// others back to the queue in their order. An error of fn stops the walk,
// and is returned once the others are back.
func (d amqpDLQ) walk(ctx context.Context, limit int, fn func(ch *amqp.Channel, dl DeadLetter, payload []byte) (take, stop bool, err error)) error {
	ch, release, err := d.session(ctx)
	if err != nil {
		return err
	}
	defer release()
	q := DeadLetterTopic(d.consumer)
	var last uint64
	var ferr error
	for n := 0; limit <= 0 || n < limit; n++ {
		m, ok, err := ch.Get(q, false)
		if err != nil {
			return d.failed(ctx, err)
		}
		if !ok {
			break
		}
		last = m.DeliveryTag
		// An envelope refused (malformed, or its id no UUID) shows what of
		// its event could be read, under the dead letter's own message id.
		ev, derr := decode(m.Body, "")
		dl := DeadLetter{ID: ev.ID, Consumer: d.consumer, Event: ev}
		if derr != nil {
			dl.ID = m.MessageId
			if u, ok := m.Headers[wmamqp.DefaultMessageUUIDHeaderKey].(string); ok && dl.ID == "" {
				dl.ID = u
			}
		}
		if r, ok := m.Headers["reason_poisoned"].(string); ok {
			dl.Reason = r
		}
		take, stop, err := fn(ch, dl, m.Body)
		if take {
			if err := m.Ack(false); err != nil {
				return d.failed(ctx, err)
			}
		}
		if err != nil {
			ferr = err
			break
		}
		if stop {
			break
		}
	}
	if last > 0 {
		// Every unacknowledged one goes back.
		if err := ch.Nack(last, true, true); err != nil {
			return d.failed(ctx, err)
		}
	}
	return ferr
}

func (d amqpDLQ) List(ctx context.Context, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		limit = 20
	}
	var out []DeadLetter
	err := d.walk(ctx, limit, func(_ *amqp.Channel, dl DeadLetter, _ []byte) (bool, bool, error) {
		out = append(out, dl)
		return false, false, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (d amqpDLQ) Replay(ctx context.Context, id string) error {
	found := false
	err := d.walk(ctx, 0, func(ch *amqp.Channel, dl DeadLetter, payload []byte) (bool, bool, error) {
		if dl.ID != id {
			return false, false, nil
		}
		found = true
		// Published before the dead letter goes: a failure in between
		// leaves a duplicate, which the consumer's inbox absorbs.
		if err := d.replay(ctx, ch, dl.Event, payload); err != nil {
			return false, true, err
		}
		return true, true, nil
	})
	switch {
	case err != nil:
		return err
	case !found:
		return ErrNotFound
	}
	return nil
}

// replay publishes the payload of ev's dead letter, as it was
// dead-lettered, on the consumer's replay topic as the publisher would (its
// exchange, marshalling and confirm), on the session's channel: one the
// consumer cannot read is dead-lettered again, never replaced by an empty
// envelope while its dead letter goes.
func (d amqpDLQ) replay(ctx context.Context, ch *amqp.Channel, ev events.Event, payload []byte) error {
	msg := toMessage(ev, payload, "")
	msg.UUID = watermill.NewUUID()
	cfg := amqpConfig(d.b.url, "")
	t := replayTopic(d.consumer)
	out, err := cfg.Marshaler.Marshal(msg)
	if err != nil {
		return fmt.Errorf("broker: replay: %w", err)
	}
	exchange := cfg.Exchange.GenerateName(t)
	if err := cfg.TopologyBuilder.ExchangeDeclare(ch, exchange, cfg); err != nil {
		return fmt.Errorf("broker: replay: %w", ctxOr(ctx, err))
	}
	if err := ch.Confirm(false); err != nil {
		return fmt.Errorf("broker: replay: %w", ctxOr(ctx, err))
	}
	confirm, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, cfg.Publish.GenerateRoutingKey(t),
		cfg.Publish.Mandatory, cfg.Publish.Immediate, out)
	if err != nil {
		return fmt.Errorf("broker: replay: %w", ctxOr(ctx, err))
	}
	acked, err := confirm.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("broker: replay: %w", ctxOr(ctx, err))
	}
	if !acked {
		return errors.New("broker: replay: the broker refused the event")
	}
	return nil
}
