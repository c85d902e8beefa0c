package broker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/logging"
)

// Metadata keys beside the payload (message headers on the wire).
const (
	metaTraceParent = "traceparent"
	metaType        = "ce-type"
)

// toMessage wraps an envelope: the message id is the event id, so that the
// broker's duplicate detection and the consumers' inbox agree. The header
// carries traceparent, the publishing span's, or else the envelope's.
func toMessage(ev events.Event, payload []byte, traceparent string) *message.Message {
	m := message.NewMessage(ev.ID, payload)
	m.Metadata.Set(metaType, ev.Type)
	if traceparent == "" {
		traceparent = ev.TraceParent
	}
	if traceparent != "" {
		m.Metadata.Set(metaTraceParent, traceparent)
	}
	return m
}

// consumerMetrics count what consumers do with events.
type consumerMetrics struct {
	handled *prometheus.CounterVec
}

func newConsumerMetrics(reg prometheus.Registerer) *consumerMetrics {
	m := &consumerMetrics{handled: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "medisync_events_consumed_total",
		Help: "Event deliveries handled by a consumer, by outcome: ok, retry (failed, to be tried again), requeued (a dependency down: handed back to the broker), dead (dead-lettered), dead_letter_failed (the dead letter refused: handed back to the broker).",
	}, []string{"consumer", "outcome"})}
	if reg != nil {
		if err := reg.Register(m.handled); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				m.handled = are.ExistingCollector.(*prometheus.CounterVec)
			}
		}
	}
	return m
}

// runRouter runs c on a Watermill router over sub until ctx ends: each
// event type (and the consumer's replay topic) is a handler; retry tries a
// failing event again with exponential backoff, then PoisonQueue publishes
// it on the dead-letter topic through dlq and acknowledges it, so the
// stream keeps flowing, unless the failure is a fault that passes, which
// goes back to the broker, as does an event whose dead letter the broker
// refuses. A handler that panics has failed an attempt.
// handBack: see retry.
func runRouter(ctx context.Context, c Consumer, sub message.Subscriber, dlq message.Publisher, topics []string, handBack bool,
	logger log.Logger, m *consumerMetrics, tr trace.Tracer) error {
	wlog := watermillLogger{logger}
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 15 * time.Second}, wlog)
	if err != nil {
		return fmt.Errorf("broker: router: %w", err)
	}
	// Every outcome's series exists from the start, so that the first
	// dead letter of a consumer is an increase an alert sees.
	for _, o := range []string{"ok", "retry", "requeued", "dead", "dead_letter_failed"} {
		m.handled.WithLabelValues(c.Name, o)
	}
	dlq = countingDLQ{Publisher: dlq, consumer: c.Name, m: m, logger: logger}
	poison, err := middleware.PoisonQueueWithFilter(dlq, DeadLetterTopic(c.Name), func(err error) bool {
		switch {
		case errors.Is(err, context.Canceled):
			// A consumer stopping mid-retry leaves the event to be redelivered.
			return false
		case !IsPermanent(err) && domainerr.Transient(err):
			// A dependency down (a database restarting, a peer away) is
			// no fault of the event: it goes back to the broker, to be
			// delivered again until the dependency answers, rather than
			// wait in the dead letters for an administrator.
			m.handled.WithLabelValues(c.Name, "requeued").Inc()
			_ = level.Warn(failureLogger(ctx, logger, err)).Log("msg", "event handed back: a dependency is down", "consumer", c.Name, "err", err)
			return false
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("broker: poison queue: %w", err)
	}
	// The first middleware added is the outermost: Recoverer comes last,
	// around the handler alone, so a panic is a failed attempt that retry
	// and PoisonQueue see, not an error that skips them and redelivers the
	// event for ever.
	r.AddMiddleware(poison, retry(c, m, handBack), middleware.Recoverer)
	handle := func(msg *message.Message) error {
		header := msg.Metadata.Get(metaTraceParent)
		ev, err := decode(msg.Payload, header)
		if err != nil {
			return err
		}
		ctx, span := startProcess(msg.Context(), tr, c.Name, header, ev)
		// Deferred, so that a panicking attempt ends its span too, as
		// failed; the panic goes on to Recoverer.
		defer func() {
			if p := recover(); p != nil {
				msg.SetContext(ctx)
				endSpan(span, fmt.Errorf("panic: %v", p))
				panic(p)
			}
			endSpan(span, err)
		}()
		err = c.Handler(ctx, ev)
		if err != nil {
			// The dead-letter publisher, which sees the message alone,
			// logs with the context of the attempt that failed last.
			msg.SetContext(ctx)
			return &eventError{id: ev.ID, span: trace.SpanContextFromContext(ctx),
				err: fmt.Errorf("%s %s: %w", ev.Type, ev.ID, err)}
		}
		m.handled.WithLabelValues(c.Name, "ok").Inc()
		return nil
	}
	for _, t := range topics {
		r.AddConsumerHandler(c.Name+"/"+t, t, sub, handle)
	}
	if err := r.Run(ctx); err != nil {
		return fmt.Errorf("broker: consumer %s: %w", c.Name, err)
	}
	return nil
}

// eventLogger is logger for a line about the event id that ctx processes:
// with its trace and span ids (docs/logging.md) and its eventId.
func eventLogger(ctx context.Context, logger log.Logger, id string) log.Logger {
	return log.With(logging.FromContext(ctx, logger), "eventId", id)
}

// eventError is a failed attempt's error with what a line about its event
// needs: the PoisonQueue filter that logs the event handed back sees the
// error alone.
type eventError struct {
	id   string
	span trace.SpanContext
	err  error
}

func (e *eventError) Error() string { return e.err.Error() }
func (e *eventError) Unwrap() error { return e.err }

// failureLogger is eventLogger for the event err failed, logger itself for
// an error that names none (a panic recovered, a consumer stopping).
func failureLogger(ctx context.Context, logger log.Logger, err error) log.Logger {
	var e *eventError
	if !errors.As(err, &e) {
		return logger
	}
	return eventLogger(trace.ContextWithSpanContext(ctx, e.span), logger, e.id)
}

// countingDLQ counts and logs the dead letters the broker stores, and those
// it refuses (the dead-letter stream full, the broker away): PoisonQueue
// then fails the delivery instead of acknowledging it, and the event comes
// again from its own stream, not lost.
type countingDLQ struct {
	message.Publisher
	consumer string
	m        *consumerMetrics
	logger   log.Logger
}

func (d countingDLQ) Publish(topic string, msgs ...*message.Message) error {
	reason := ""
	if len(msgs) > 0 {
		reason = msgs[0].Metadata.Get(middleware.ReasonForPoisonedKey)
	}
	logger := d.logger
	if len(msgs) == 1 {
		// The message id is the event's (Publish), also for an envelope
		// that could not be decoded.
		logger = eventLogger(msgs[0].Context(), logger, msgs[0].UUID)
	}
	if err := d.Publisher.Publish(topic, msgs...); err != nil {
		d.m.handled.WithLabelValues(d.consumer, "dead_letter_failed").Add(float64(len(msgs)))
		_ = level.Error(logger).Log("msg", "dead letter refused: the event goes back to its stream", "consumer", d.consumer,
			"err", fmt.Errorf("%w (dead-lettered for: %s)", err, reason))
		return err
	}
	d.m.handled.WithLabelValues(d.consumer, "dead").Add(float64(len(msgs)))
	_ = level.Warn(logger).Log("msg", "event dead-lettered", "consumer", d.consumer, "err", reason)
	return nil
}

// watermillLogger sends Watermill's log lines to go-kit: errors as
// warnings (each is retried or dead-lettered), the rest at debug.
type watermillLogger struct{ l log.Logger }

func (w watermillLogger) fields(msg string, f watermill.LogFields) []any {
	return appendFields([]any{"msg", msg, "component", "broker"}, f)
}

// appendFields adds Watermill's fields to kv, its durations as <name>Ms
// numbers like every other log line (docs/logging.md): the router logs
// time.Duration values, watermill-nats a "delay" already made a string.
func appendFields(kv []any, f watermill.LogFields) []any {
	for k, v := range f {
		if s, ok := v.(string); ok && k == "delay" {
			if d, err := time.ParseDuration(s); err == nil {
				v = d
			}
		}
		if d, ok := v.(time.Duration); ok {
			kv = append(kv, k+"Ms", logging.Millis(d))
			continue
		}
		kv = append(kv, k, v)
	}
	return kv
}

func (w watermillLogger) Error(msg string, err error, f watermill.LogFields) {
	if msg == "Cannot unsubscribe" && errors.Is(err, nats.ErrConnectionClosed) {
		// A stopping consumer's subscriptions, ended by the drain of
		// their connection (drainFirst): nothing went wrong.
		_ = level.Debug(w.l).Log(append(w.fields(msg, f), "err", err)...)
		return
	}
	// The router's own line about a handed-back event names it as ours do.
	_ = level.Warn(failureLogger(context.Background(), w.l, err)).Log(append(w.fields(msg, f), "err", err)...)
}
func (w watermillLogger) Info(msg string, f watermill.LogFields) {
	_ = level.Debug(w.l).Log(w.fields(msg, f)...)
}
func (w watermillLogger) Debug(msg string, f watermill.LogFields) {
	_ = level.Debug(w.l).Log(w.fields(msg, f)...)
}
func (w watermillLogger) Trace(string, watermill.LogFields) {}
func (w watermillLogger) With(f watermill.LogFields) watermill.LoggerAdapter {
	return watermillLogger{log.With(w.l, appendFields(make([]any, 0, 2*len(f)), f)...)}
}

// retry tries a failing event again, up to c.MaxAttempts tries in all,
// waiting c.Backoff, doubled after each try up to 5 s, give or take a fifth.
// A permanent error stops at once. So does a fault that passes when
// handBack is set (NATS): JetStream delivers the event again after a pause
// (requeueDelay), and the events buffered behind it are not held past
// their AckWait while a database is down. Written here because watermill's
// Retry (v1.5.1) advances its backoff twice a try when told which errors to
// retry, so that its waits were 0.2, 0.8, 3.2 and 5 s instead of 0.1 to
// 0.8 s (ADR 0025).
func retry(c Consumer, m *consumerMetrics, handBack bool) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			ctx := msg.Context()
			wait := c.Backoff
			for attempt := 1; ; attempt++ {
				msg.SetContext(ctx)
				out, err := h(msg)
				if err == nil || attempt >= c.MaxAttempts || IsPermanent(err) || (handBack && domainerr.Transient(err)) {
					return out, err
				}
				m.handled.WithLabelValues(c.Name, "retry").Inc()
				t := time.NewTimer(time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64())))
				select {
				case <-ctx.Done():
					t.Stop()
					// Canceled: the consumer stops; the event is delivered again.
					return nil, fmt.Errorf("%w: %w", ctx.Err(), err)
				case <-t.C:
				}
				wait = min(2*wait, 5*time.Second)
			}
		}
	}
}
