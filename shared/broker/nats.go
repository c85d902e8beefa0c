package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/go-kit/log/level"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/tracing"
)

// dlqStream holds every consumer's dead letters and replays.
const dlqStream = "MEDISYNC_DLQ"

// requeueDelay is how long an event handed back to JetStream (its
// dependency down, or the consumer stopping) waits before it comes again:
// first after its first delivery (1 s), doubled with each, at most 30 s.
type requeueDelay struct{ first time.Duration }

// WaitTime is the wait after the delivered-th delivery.
func (r requeueDelay) WaitTime(delivered uint64) time.Duration {
	d := r.first
	for i := uint64(1); i < delivered && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// natsBroker publishes and consumes through JetStream: a stream per
// producer (MEDISYNC_<SERVICE> over medisync.<service>.>), created on
// first use by whichever side comes first, a durable consumer per
// consuming service and event type.
type natsBroker struct {
	servers  string
	inbox    string // the connections' inbox prefix (natsURL.inbox)
	nc       *nats.Conn
	js       jetstream.JetStream
	pub      *wmnats.Publisher
	o        Options
	replicas int
	// dlqMaxBytes and dlqMaxPerConsumer bound the dead-letter stream
	// (dlqStreamConfig); 0 is no bound.
	dlqMaxBytes, dlqMaxPerConsumer int64
	metrics                        *consumerMetrics

	// consumerCheck is how often a running consumer makes sure its
	// durables still exist.
	consumerCheck time.Duration
	// requeueFirst is the first wait of an event handed back (requeueDelay).
	requeueFirst time.Duration
	// streamRecheck is how long a publisher trusts that its stream keeps
	// its configuration before it asks again (ensureStream).
	streamRecheck time.Duration

	mu sync.Mutex
	// streams are the streams known to exist, each with when this broker
	// last brought it to its configuration (ensureStream with update),
	// zero when it only found it.
	streams map[string]time.Time
	// dlqRefused is the refusal of the dead-letter stream's configuration
	// last logged, so that a check every consumerCheck warns once.
	dlqRefused string
}

func openNATS(ctx context.Context, rawURL string, o Options) (*natsBroker, error) {
	u, err := parseNATSURL(rawURL)
	if err != nil {
		return nil, err
	}
	b := &natsBroker{servers: u.servers, inbox: u.inbox, o: o, replicas: u.replicas, dlqMaxBytes: u.dlqMaxBytes,
		dlqMaxPerConsumer: u.dlqMaxPerConsumer, metrics: newConsumerMetrics(o.Registerer), streams: map[string]time.Time{}, consumerCheck: 10 * time.Second,
		requeueFirst: time.Second, streamRecheck: time.Minute}
	nc, err := b.connect("medisync")
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("broker: jetstream: %w", err)
	}
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream: wmnats.JetStreamConfig{
			// The event id is the Nats-Msg-Id: a relay that publishes an
			// event again within the duplicate window stores it once.
			TrackMsgId:     true,
			ConnectOptions: []nats.JSOpt{nats.MaxWait(5 * time.Second)},
		},
	}, watermillLogger{o.Logger})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("broker: publisher: %w", err)
	}
	b.nc, b.js, b.pub = nc, js, pub
	return b, nil
}

// connect opens a connection; each consumer has its own, which its
// Watermill subscriber closes when it stops.
func (b *natsBroker) connect(name string) (*nats.Conn, error) {
	logger := b.o.Logger
	opts := []nats.Option{
		nats.Name(name),
		// Start even while the broker is away, and keep reconnecting: the
		// outbox keeps the events meanwhile.
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		// No client-side buffering while disconnected: a publish fails at
		// once and the event stays in the outbox.
		nats.ReconnectBufSize(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			_ = logger.Log("level", "warn", "msg", "broker disconnected", "err", err)
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			_ = logger.Log("level", "info", "msg", "broker reconnected")
		}),
		// The server's asynchronous refusals (a permission violation) and
		// a slow consumer's dropped messages; the client's default writes
		// them to stderr as a bare line outside the structured log.
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			kv := []any{"level", "error", "msg", "broker error", "err", err}
			if sub != nil {
				kv = append(kv, "subject", sub.Subject)
			}
			_ = logger.Log(kv...)
		}),
	}
	if b.inbox != "" {
		opts = append(opts, nats.CustomInboxPrefix(b.inbox))
	}
	nc, err := nats.Connect(b.servers, opts...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect to nats: %w", err)
	}
	return nc, nil
}

// natsURL is a broker URL read: the servers, and the settings of the
// streams the broker creates, given as query parameters of any of them.
type natsURL struct {
	servers string
	// inbox is _INBOX.<user> for a URL naming a user and password, so that
	// JetStream's answers to one service's user come on subjects another
	// user may be kept from (deploy/nats/permissions.conf); empty, the
	// client's _INBOX, otherwise (a token is never put in a subject).
	inbox    string
	replicas int // ?replicas=N: a cluster's copies of each stream
	// ?dlq_max_bytes=N: the dead-letter stream's bound in bytes, none unless
	// given (JetStream reserves a stream's bound when it creates it).
	dlqMaxBytes int64
	// ?dlq_max_per_consumer=N: at most N messages on each consumer's subject
	// of the dead-letter stream, none unless given.
	dlqMaxPerConsumer int64
}

// parseNATSURL splits the URL list and reads the query parameters off it.
func parseNATSURL(rawURL string) (natsURL, error) {
	parts := strings.Split(rawURL, ",")
	out := natsURL{replicas: 1}
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.Host == "" {
			return natsURL{}, errors.New("broker: invalid nats URL")
		}
		if _, hasPassword := u.User.Password(); hasPassword && out.inbox == "" && inboxToken(u.User.Username()) {
			out.inbox = "_INBOX." + u.User.Username()
		}
		q := u.Query()
		if r := q.Get("replicas"); r != "" {
			n, err := strconv.Atoi(r)
			if err != nil || n < 1 || n > 5 {
				return natsURL{}, errors.New("broker: nats replicas must be 1 to 5")
			}
			out.replicas = n
		}
		for _, bound := range []struct {
			param, unit string
			to          *int64
		}{{"dlq_max_bytes", "bytes", &out.dlqMaxBytes}, {"dlq_max_per_consumer", "messages", &out.dlqMaxPerConsumer}} {
			m := q.Get(bound.param)
			if m == "" {
				continue
			}
			n, err := strconv.ParseInt(m, 10, 64)
			if err != nil || n < 1 {
				return natsURL{}, fmt.Errorf("broker: nats %s must be a positive number of %s", bound.param, bound.unit)
			}
			*bound.to = n
		}
		u.RawQuery = ""
		parts[i] = u.String()
	}
	out.servers = strings.Join(parts, ",")
	return out, nil
}

// inboxToken tells whether user can be a token of a subject as it is.
func inboxToken(user string) bool {
	if user == "" {
		return false
	}
	for _, r := range user {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// streamName is the stream of the producer of subject medisync.<service>.x.
func streamName(service string) string {
	return "MEDISYNC_" + strings.ToUpper(strings.ReplaceAll(service, "-", "_"))
}

// ensureStream creates the stream of cfg, or, with update, brings an
// existing one to cfg, unless it is known to exist. It is known until a
// publish or a consumer on it fails (forgetStream): a stream can disappear
// under a running broker (a NATS back without its store, an operator's
// delete), and only creating it again brings its publishers and consumers
// back. A stream made again by a consumer carries the consumer's
// configuration, and a publish into it succeeds: a publisher (update)
// therefore asks again once streamRecheck has passed, and whatever a
// consumer of the same broker found does not count as configured.
func (b *natsBroker) ensureStream(ctx context.Context, cfg jetstream.StreamConfig, update bool) error {
	name := cfg.Name
	b.mu.Lock()
	at, known := b.streams[name]
	if update {
		known = known && !at.IsZero() && time.Since(at) < b.streamRecheck
	}
	b.mu.Unlock()
	if known {
		return nil
	}
	// Create first: the server answers an existing stream of the same
	// configuration without touching it. Only a changed configuration is
	// an update, which rewrites the stream's store (and, in nats-server,
	// races a consumer being created on it at that moment).
	_, err := b.js.CreateStream(ctx, cfg)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		err = nil
		if update {
			_, err = b.js.UpdateStream(ctx, cfg)
		}
	}
	if err != nil {
		return fmt.Errorf("broker: stream %s: %w", name, err)
	}
	b.mu.Lock()
	if update {
		b.streams[name] = time.Now()
	} else if _, ok := b.streams[name]; !ok {
		b.streams[name] = time.Time{}
	}
	b.mu.Unlock()
	return nil
}

// forgetStream makes the next ensureStream of name ask the server again.
// Asking again costs a round trip, so any failure may forget: a stream
// that still exists is left as it is.
func (b *natsBroker) forgetStream(name string) {
	b.mu.Lock()
	delete(b.streams, name)
	b.mu.Unlock()
}

// producerStream is the stream of events of type typ.
func producerStream(typ string) string { return streamName(events.Producer(typ)) }

// ensureProducerStream: a producer's events are kept StreamMaxAge, for
// consumers away or not yet started; the outbox keeps them as long. Only
// the producer (update) brings an existing stream to its configuration,
// within streamRecheck of its next publish: a consumer makes the stream
// when it is missing and leaves it otherwise, so that
// deploy/nats/permissions.conf need not let a consumer update a stream,
// which would let it source any other stream into it.
func (b *natsBroker) ensureProducerStream(ctx context.Context, typ string, update bool) error {
	svc := events.Producer(typ)
	return b.ensureStream(ctx, jetstream.StreamConfig{
		Name:       streamName(svc),
		Subjects:   []string{"medisync." + svc + ".>"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     b.o.StreamMaxAge,
		Duplicates: 2 * time.Minute,
		Replicas:   b.replicas,
	}, update)
}

// dlqStreamConfig: dead letters are kept until replayed, whatever their
// age (ADR 0025): once the producer's stream and outbox have let an event
// go, its dead letter is its only copy. Nor is the stream bounded unless
// the URL says so: JetStream reserves a stream's MaxBytes in its store when
// it creates or updates it, and refuses a bound it has no room for.
// Bounded, it refuses a new dead letter rather than drop an old one, and
// the refused event is not acknowledged and stays on its own stream; a
// bound per consumer (each has one subject of dead letters and one of
// replays) keeps one consumer from filling it for all.
func (b *natsBroker) dlqStreamConfig() jetstream.StreamConfig {
	cfg := jetstream.StreamConfig{
		Name:      dlqStream,
		Subjects:  []string{dlqPrefix + ">", replayPrefix + ">"},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		MaxAge:    0,
		MaxBytes:  -1,
		Discard:   jetstream.DiscardNew,
		// Named, as the server would otherwise derive it from MaxAge.
		Duplicates: 2 * time.Minute,
		Replicas:   b.replicas,
	}
	if b.dlqMaxBytes > 0 {
		cfg.MaxBytes = b.dlqMaxBytes
	}
	if b.dlqMaxPerConsumer > 0 {
		cfg.MaxMsgsPerSubject = b.dlqMaxPerConsumer
		cfg.DiscardNewPerSubject = true
	}
	return cfg
}

// dlqLimitsHold reports whether the stream config have keeps dead letters
// as want does: an instance of a release before ADR 0025's retention puts
// the producers' 7 days back when it starts or recovers.
func dlqLimitsHold(have, want jetstream.StreamConfig) bool {
	// The server reports no bound as -1, asked with 0 or -1.
	bound := func(n int64) int64 { return max(n, 0) }
	return have.MaxAge == want.MaxAge && bound(have.MaxBytes) == bound(want.MaxBytes) &&
		bound(have.MaxMsgsPerSubject) == bound(want.MaxMsgsPerSubject) &&
		have.Discard == want.Discard && have.DiscardNewPerSubject == want.DiscardNewPerSubject
}

// ensureDLQStream creates the dead-letter stream, or brings an existing
// one to dlqStreamConfig when its limits differ, unless it is known to
// exist. Limits an existing stream cannot take (no room to reserve
// dlq_max_bytes, say) are left to it, with a warning: dead letters and
// replays go on in it. Only a stream missing that cannot be
// created is an error, and then dead letters are refused (their events stay
// on their streams).
func (b *natsBroker) ensureDLQStream(ctx context.Context) error {
	b.mu.Lock()
	_, known := b.streams[dlqStream]
	b.mu.Unlock()
	if known {
		return nil
	}
	want := b.dlqStreamConfig()
	s, err := b.js.Stream(ctx, dlqStream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if _, err := b.js.CreateStream(ctx, want); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("broker: stream %s: %w", dlqStream, err)
		}
		// Made by another instance meanwhile, it may differ: the next
		// check (watchDurables) brings it to want.
	case err != nil:
		return fmt.Errorf("broker: stream %s: %w", dlqStream, err)
	case !dlqLimitsHold(s.CachedInfo().Config, want):
		b.dlqConfigRefused(b.applyDLQLimits(ctx, s, want))
	default:
		b.dlqConfigRefused(nil)
	}
	b.mu.Lock()
	b.streams[dlqStream] = time.Time{}
	b.mu.Unlock()
	return nil
}

// applyDLQLimits brings the existing dead-letter stream s to want as far
// as it can, and says what it could not apply.
func (b *natsBroker) applyDLQLimits(ctx context.Context, s jetstream.Stream, want jetstream.StreamConfig) error {
	have := s.CachedInfo().Config
	var refused error
	if lower := want.MaxMsgsPerSubject; lower > 0 && (have.MaxMsgsPerSubject <= 0 || lower < have.MaxMsgsPerSubject) {
		// JetStream applies a lower bound per subject to what the stream
		// holds by deleting the oldest, whatever its discard policy: a
		// bound below what a consumer holds waits.
		if refused = dlqHeldWithin(ctx, s, lower); refused != nil {
			want.MaxMsgsPerSubject, want.DiscardNewPerSubject = have.MaxMsgsPerSubject, have.DiscardNewPerSubject
		}
	}
	if dlqLimitsHold(have, want) {
		return refused
	}
	_, err := b.js.UpdateStream(ctx, want)
	if err != nil && max(want.MaxBytes, 0) != max(have.MaxBytes, 0) {
		// A byte bound the server cannot reserve: the rest, no age limit
		// above all, still applies.
		refused, want.MaxBytes = errors.Join(refused, err), have.MaxBytes
		if dlqLimitsHold(have, want) {
			return refused
		}
		_, err = b.js.UpdateStream(ctx, want)
	}
	if err != nil {
		return errors.Join(refused, err)
	}
	_ = level.Info(b.o.Logger).Log("msg", "dead-letter stream brought to its limits", "stream", dlqStream,
		"maxAgeMs", logging.Millis(have.MaxAge), "maxBytes", have.MaxBytes, "discard", have.Discard.String())
	return refused
}

// dlqHeldWithin says why the dead-letter stream s cannot be bounded to
// bound messages per subject (per consumer's dead letters, or replays),
// nil if it can.
func dlqHeldWithin(ctx context.Context, s jetstream.Stream, bound int64) error {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		return fmt.Errorf("dead letters per consumer not counted: %w", err)
	}
	for _, n := range info.State.Subjects {
		if n > uint64(bound) {
			return errors.New("a consumer holds more dead letters or replays than dlq_max_per_consumer, which the broker would make room for by deleting the oldest")
		}
	}
	return nil
}

// dlqConfigRefused warns that the dead-letter stream's limits could not be
// applied, once for as long as they cannot for the same reason; nil says
// they hold. The server's answer names no credential.
func (b *natsBroker) dlqConfigRefused(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	b.mu.Lock()
	warn := msg != "" && msg != b.dlqRefused
	b.dlqRefused = msg
	b.mu.Unlock()
	if warn {
		_ = level.Warn(b.o.Logger).Log("msg", "dead-letter stream limits not applied: the stream keeps its own", "stream", dlqStream,
			"max_bytes", b.dlqMaxBytes, "max_per_consumer", b.dlqMaxPerConsumer, "err", err)
	}
}

// Publish stores ev in its producer's stream and waits for the ack.
func (b *natsBroker) Publish(ctx context.Context, ev events.Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ctx, span := startPublish(ctx, b.o.Tracing.Tracer(), systemNATS, ev)
	err := b.publish(ctx, ev)
	endSpan(span, err)
	return err
}

func (b *natsBroker) publish(ctx context.Context, ev events.Event) error {
	if err := b.ensureProducerStream(ctx, ev.Type, true); err != nil {
		return err
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("broker: encode %s: %w", ev.Type, err)
	}
	if err := b.pub.Publish(ev.Topic(), toMessage(ev, payload, tracing.TraceParent(ctx))); err != nil {
		b.forgetStream(producerStream(ev.Type))
		return fmt.Errorf("broker: publish %s: %w", ev.Type, err)
	}
	return nil
}

// PublishBatch stores evs in order through JetStream's asynchronous
// publishing: all are sent, then the acknowledgements awaited together, so
// a batch costs about one round trip instead of one per event. It reports
// how many leading events were stored (outbox.BatchPublisher).
func (b *natsBroker) PublishBatch(ctx context.Context, evs []events.Event) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	var sendErr error
	for _, ev := range evs {
		if sendErr = b.ensureProducerStream(ctx, ev.Type, true); sendErr != nil {
			break
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			sendErr = fmt.Errorf("broker: encode %s: %w", ev.Type, err)
			break
		}
		// Each event gets its producer span, as Publish gives it; the span
		// ends once the event is sent, the acks being awaited together.
		spanCtx, span := startPublish(ctx, b.o.Tracing.Tracer(), systemNATS, ev)
		msg, err := (&wmnats.NATSMarshaler{}).Marshal(ev.Topic(), toMessage(ev, payload, tracing.TraceParent(spanCtx)))
		endSpan(span, err)
		if err != nil {
			sendErr = fmt.Errorf("broker: encode %s: %w", ev.Type, err)
			break
		}
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithMsgID(ev.ID))
		if err != nil {
			b.forgetStream(producerStream(ev.Type))
			sendErr = fmt.Errorf("broker: publish %s: %w", ev.Type, err)
			break
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			b.forgetStream(producerStream(evs[i].Type))
			return i, fmt.Errorf("broker: publish %s: %w", evs[i].Type, err)
		case <-ctx.Done():
			return i, fmt.Errorf("broker: publish %s: %w", evs[i].Type, ctx.Err())
		}
	}
	return len(futures), sendErr
}

// deadLetterPublisher publishes PoisonQueue's messages into the DLQ stream.
type deadLetterPublisher struct{ b *natsBroker }

func (p deadLetterPublisher) Publish(topic string, msgs ...*message.Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.b.ensureDLQStream(ctx); err != nil {
		return err
	}
	for _, m := range msgs {
		// A message id of its own: the event id would collide, in the
		// stream's duplicate window, with the event's replay.
		m.UUID = watermill.NewUUID()
	}
	if err := p.b.pub.Publish(topic, msgs...); err != nil {
		p.b.forgetStream(dlqStream)
		return fmt.Errorf("broker: dead letter: %w", err)
	}
	return nil
}
func (p deadLetterPublisher) Close() error { return nil }

// Consume subscribes c's durables and runs them until ctx ends.
func (b *natsBroker) Consume(ctx context.Context, c Consumer) error {
	if err := c.validate(); err != nil {
		return err
	}
	return keepConsuming(ctx, b.o.Logger, c.Name, func(ctx context.Context) error { return b.consumeOnce(ctx, c) })
}

// consumeOnce runs c until ctx ends or one of its durables disappears
// (with its stream, say); on any failure the streams are forgotten, so the
// next pass creates again whatever is missing.
func (b *natsBroker) consumeOnce(ctx context.Context, c Consumer) (err error) {
	topics := make([]string, 0, len(c.Types)+1)
	for _, t := range c.Types {
		topics = append(topics, topic(t))
	}
	topics = append(topics, replayTopic(c.Name))
	defer func() {
		if err != nil {
			for _, t := range topics {
				b.forgetStream(topicStream(t))
			}
		}
	}()
	for _, t := range c.Types {
		if err := b.ensureProducerStream(ctx, t, false); err != nil {
			return err
		}
	}
	// Without the dead-letter stream the consumer still applies what it
	// can: its dead letters are refused, their events left on their
	// streams, and its replays wait until the watch can make the stream.
	replays := true
	if err := b.ensureDLQStream(ctx); err != nil {
		_ = level.Warn(b.o.Logger).Log("msg", "no dead-letter stream: dead letters refused until it can be created",
			"consumer", c.Name, "err", err)
		topics, replays = topics[:len(topics)-1], false
	}
	if err := b.ensureDurables(c, topics); err != nil {
		return err
	}
	nc, err := b.connect("medisync-" + c.Name)
	if err != nil {
		return err
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(nc, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler:      &wmnats.NATSMarshaler{},
		SubscribersCount: c.Concurrency,
		AckWaitTimeout:   30 * time.Second,
		CloseTimeout:     15 * time.Second,
		// An event handed back (its dependency down, or the consumer
		// stopping) comes again after a pause, not at once.
		NakDelay:          requeueDelay{first: b.requeueFirst},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		QueueGroupPrefix:  c.Name,
		JetStream: wmnats.JetStreamConfig{
			SubscribeOptions: []nats.SubOpt{nats.ManualAck()},
			// An ack is not awaited: one lost redelivers the event after
			// AckWait, which the consumer's inbox absorbs, and a
			// round trip per event would bound a worker's rate.
			AckAsync: true,
			// The durables exist (ensureDurables): bound, not created, so
			// a stopping instance leaves them, with their acks, in place.
			DurablePrefix:     c.Name,
			DurableCalculator: durableName,
		},
	}, watermillLogger{b.o.Logger})
	if err != nil {
		nc.Close()
		return fmt.Errorf("broker: subscriber %s: %w", c.Name, err)
	}
	// Not closed: the library's Close waits for every output it opened,
	// and one whose subscribe failed (the connection drained meanwhile) is
	// never closed. The drain ends every subscription and closes nc.
	df := newDrainFirst(sub, nc)
	defer df.wait()
	// A push subscription whose durable is deleted just stops receiving:
	// nothing tells the router, so a watch ends the pass instead.
	rctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	go b.watchDurables(rctx, stop, c, topics, replays)
	if err := runRouter(rctx, c, df, deadLetterPublisher{b}, topics, true, b.o.Logger, b.metrics, b.o.Tracing.Tracer()); err != nil {
		return err
	}
	if cause := context.Cause(rctx); ctx.Err() == nil && cause != nil && !errors.Is(cause, errDLQCreated) {
		return cause
	}
	return nil
}

// errDLQCreated ends a pass that started without the dead-letter stream,
// so that the next one subscribes the consumer's replays.
var errDLQCreated = errors.New("broker: dead-letter stream created")

// watchDurables asks every consumerCheck whether c's durables still exist,
// delivering where this pass reads, and ends the pass through lost when one
// is gone or moved. Other failures (the broker away) end nothing: the
// connection comes back by itself. It checks the dead-letter stream's
// limits too, and puts them back when they differ (an instance of an
// earlier release resets them when it starts or recovers); a pass started
// without the stream (replays false) ends once the stream is made.
func (b *natsBroker) watchDurables(ctx context.Context, lost context.CancelCauseFunc, c Consumer, topics []string, replays bool) {
	js, err := b.nc.JetStream()
	if err != nil {
		return
	}
	// lost ends ctx, and with it the loop.
	clock.Every(ctx, b.consumerCheck, func() {
		for _, tp := range topics {
			durable := durableName(c.Name, tp)
			info, err := js.ConsumerInfo(topicStream(tp), durable, nats.Context(ctx))
			if errors.Is(err, nats.ErrConsumerNotFound) || errors.Is(err, nats.ErrStreamNotFound) {
				lost(fmt.Errorf("broker: durable %s is gone: %w", durable, err))
				return
			}
			// Moved to another subject (an operator's edit, another
			// release's update, made while this instance was cut off) it
			// delivers to no one here, as this pass reads the subject it
			// bound to: the next pass brings it back.
			if err == nil && info.Config.DeliverSubject != deliverSubject(c.Name, durable) {
				lost(fmt.Errorf("broker: durable %s delivers to %s", durable, info.Config.DeliverSubject))
				return
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		b.forgetStream(dlqStream)
		if err := b.ensureDLQStream(cctx); err == nil && !replays {
			_ = level.Info(b.o.Logger).Log("msg", "dead-letter stream created: dead letters and replays resume", "consumer", c.Name)
			lost(errDLQCreated)
		}
	})
}

// topicStream is the stream that holds a consumer's subject.
func topicStream(t string) string {
	if strings.HasPrefix(t, replayPrefix) {
		return dlqStream
	}
	return streamName(events.Producer(strings.TrimPrefix(t, "medisync.")))
}

// durableName is the durable of a consumer on one subject, shared by its
// instances.
func durableName(consumer, topic string) string {
	return consumer + "_" + strings.NewReplacer(".", "_", "-", "_").Replace(topic)
}

// ConsumerGrants lists the subjects a consumer of topics (medisync.<type>)
// uses on NATS for them: it publishes to the creation of the producer's
// stream, and to the creation, lookup and acknowledgements of its durable,
// and subscribes to the durable's deliveries. A user of
// deploy/nats/permissions.conf must be allowed each; the consuming
// services test their topics against the file.
func ConsumerGrants(consumer string, topics []string) (publish, subscribe []string) {
	for _, t := range topics {
		stream, durable := topicStream(t), durableName(consumer, t)
		publish = append(publish,
			"$JS.API.STREAM.CREATE."+stream,
			"$JS.API.CONSUMER.CREATE."+stream+"."+durable+"."+t,
			"$JS.API.CONSUMER.INFO."+stream+"."+durable,
			"$JS.ACK."+stream+"."+durable+".>")
		subscribe = append(subscribe, deliverSubject(consumer, durable))
	}
	return publish, subscribe
}

// deliverSubject is where the durable of consumer delivers: under
// _deliver.medisync.<consumer>, which deploy/nats/permissions.conf lets
// that consumer's user alone read (a consumer name is one token).
func deliverSubject(consumer, durable string) string {
	return "_deliver.medisync." + consumer + "." + durable
}

// ensureDurables creates (or updates) c's durable push consumers: one per
// subject, delivering to its instances as a queue group. A durable an
// earlier release made delivers to _deliver.medisync.<durable>: the update
// brings it under its consumer's subject, which the server refuses while
// an instance of that release is still bound to the old one, so the pass
// fails and is tried again until that instance has gone.
func (b *natsBroker) ensureDurables(c Consumer, topics []string) error {
	js, err := b.nc.JetStream(nats.MaxWait(5 * time.Second))
	if err != nil {
		return fmt.Errorf("broker: jetstream: %w", err)
	}
	for _, t := range topics {
		stream := topicStream(t)
		durable := durableName(c.Name, t)
		cfg := &nats.ConsumerConfig{
			Durable:        durable,
			DeliverSubject: deliverSubject(c.Name, durable),
			DeliverGroup:   c.Name,
			DeliverPolicy:  nats.DeliverAllPolicy,
			AckPolicy:      nats.AckExplicitPolicy,
			AckWait:        30 * time.Second,
			MaxAckPending:  1024,
			FilterSubject:  t,
		}
		info, err := js.AddConsumer(stream, cfg)
		if err == nil && info.Config.DeliverSubject == cfg.DeliverSubject {
			continue
		}
		// A durable of another configuration, or delivering elsewhere,
		// which AddConsumer does not compare.
		if _, uerr := js.UpdateConsumer(stream, cfg); uerr != nil {
			if err == nil {
				err = uerr
			}
			return fmt.Errorf("broker: durable %s: %w", durable, err)
		}
	}
	return nil
}

// Ping asks JetStream for the account's state.
func (b *natsBroker) Ping(ctx context.Context) error {
	if !b.nc.IsConnected() {
		return errors.New("broker: nats not connected")
	}
	if _, err := b.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("broker: jetstream: %w", err)
	}
	return nil
}

// Close drains nothing: the relay and the consumers have stopped by then.
func (b *natsBroker) Close() error {
	b.nc.Close()
	return nil
}

// DeadLetters reads medisync.dlq.<consumer> in the DLQ stream.
func (b *natsBroker) DeadLetters(consumer string) DeadLetters {
	return natsDLQ{b: b, consumer: consumer}
}

type natsDLQ struct {
	b        *natsBroker
	consumer string
}

type natsDeadLetter struct {
	DeadLetter
	seq     uint64
	payload []byte // as dead-lettered
}

// scan reads the consumer's dead letters in order, at most limit (0: all),
// through an ordered consumer that leaves no state behind.
func (d natsDLQ) scan(ctx context.Context, limit int) ([]natsDeadLetter, error) {
	if err := d.b.ensureDLQStream(ctx); err != nil {
		return nil, err
	}
	stream, err := d.b.js.Stream(ctx, dlqStream)
	if err != nil {
		d.b.forgetStream(dlqStream)
		return nil, fmt.Errorf("broker: dead letters: %w", err)
	}
	subject := DeadLetterTopic(d.consumer)
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		return nil, fmt.Errorf("broker: dead letters: %w", err)
	}
	pending := int(info.State.Subjects[subject])
	if limit > 0 && pending > limit {
		pending = limit
	}
	if pending == 0 {
		return nil, nil
	}
	oc, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		return nil, fmt.Errorf("broker: dead letters: %w", err)
	}
	out := make([]natsDeadLetter, 0, pending)
	for len(out) < pending {
		batch, err := oc.Fetch(pending-len(out), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("broker: dead letters: %w", err)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			meta, err := msg.Metadata()
			if err != nil {
				return nil, fmt.Errorf("broker: dead letters: %w", err)
			}
			// An envelope refused (malformed, or its id no UUID) shows what
			// of its event could be read, under its place in the stream.
			ev, err := decode(msg.Data(), "")
			dl := DeadLetter{Consumer: d.consumer, Reason: msg.Headers().Get("reason_poisoned"), Event: ev}
			dl.ID = ev.ID
			if err != nil {
				dl.ID = fmt.Sprintf("seq-%d", meta.Sequence.Stream)
			}
			out = append(out, natsDeadLetter{DeadLetter: dl, seq: meta.Sequence.Stream, payload: msg.Data()})
		}
		if batch.Error() != nil && n == 0 {
			return nil, fmt.Errorf("broker: dead letters: %w", batch.Error())
		}
		if n == 0 {
			break // deleted meanwhile
		}
	}
	return out, nil
}

func (d natsDLQ) List(ctx context.Context, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		limit = 20
	}
	got, err := d.scan(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, len(got))
	for i, g := range got {
		out[i] = g.DeadLetter
	}
	return out, nil
}

func (d natsDLQ) Replay(ctx context.Context, id string) error {
	all, err := d.scan(ctx, 0)
	if err != nil {
		return err
	}
	for _, g := range all {
		if g.ID != id {
			continue
		}
		if err := d.dropReplayed(ctx); err != nil {
			_ = level.Warn(d.b.o.Logger).Log("msg", "replays already applied left in the dead-letter stream", "consumer", d.consumer, "err", err)
		}
		// Published before the dead letter goes: a crash in between leaves
		// a duplicate, which the consumer's inbox absorbs.
		// The payload goes back as it was dead-lettered: one the consumer
		// cannot read is dead-lettered again, never replaced by an empty
		// envelope while its dead letter goes.
		msg := toMessage(g.Event, g.payload, "")
		msg.UUID = watermill.NewUUID() // a replay is a new message
		if err := d.b.pub.Publish(replayTopic(d.consumer), msg); err != nil {
			d.b.forgetStream(dlqStream)
			return fmt.Errorf("broker: replay: %w", err)
		}
		stream, err := d.b.js.Stream(ctx, dlqStream)
		if err != nil {
			return fmt.Errorf("broker: replay: %w", err)
		}
		if err := stream.DeleteMsg(ctx, g.seq); err != nil {
			return fmt.Errorf("broker: replay: remove dead letter: %w", err)
		}
		return nil
	}
	return ErrNotFound
}

// dropReplayed removes from the dead-letter stream the consumer's replays
// that its durable has acknowledged. The stream has no age limit, so
// nothing else would: replays long applied would fill it until it refused
// dead letters. A consumer that never ran has none to drop.
func (d natsDLQ) dropReplayed(ctx context.Context) error {
	stream, err := d.b.js.Stream(ctx, dlqStream)
	if err != nil {
		return err
	}
	c, err := stream.PushConsumer(ctx, durableName(d.consumer, replayTopic(d.consumer)))
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	floor := c.CachedInfo().AckFloor.Stream
	if floor == 0 {
		return nil
	}
	return stream.Purge(ctx, jetstream.WithPurgeSubject(replayTopic(d.consumer)), jetstream.WithPurgeSequence(floor+1))
}
