package broker

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/tracing"
)

// The messaging.system attribute of each broker's spans.
var (
	systemNATS = semconv.MessagingSystemKey.String("nats")
	systemAMQP = semconv.MessagingSystemRabbitMQ
)

// startPublish starts the producer span of ev: a child of the trace its
// envelope carries (the request that wrote it to the outbox, whose relay
// publishes it later with a context of its own), else of ctx's span. The
// message header then carries this span's traceparent, so the consumer's
// span is its child. With tracing off the span records nothing and passes
// the parent on.
func startPublish(ctx context.Context, tr trace.Tracer, system attribute.KeyValue, ev events.Event) (context.Context, trace.Span) {
	ctx = tracing.WithTraceParent(ctx, ev.TraceParent)
	return tr.Start(ctx, "send "+ev.Topic(), trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		system, semconv.MessagingOperationTypeSend,
		semconv.MessagingDestinationName(ev.Topic()), semconv.MessagingMessageID(ev.ID),
	))
}

// startProcess starts the consumer span of one delivery, a child of the
// producer span the message header names (or of the envelope's trace).
func startProcess(ctx context.Context, tr trace.Tracer, consumer, header string, ev events.Event) (context.Context, trace.Span) {
	parent := header
	if parent == "" {
		parent = ev.TraceParent
	}
	ctx = tracing.WithTraceParent(ctx, parent)
	return tr.Start(ctx, "process "+ev.Type, trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
		semconv.MessagingOperationTypeProcess, semconv.MessagingDestinationName(ev.Topic()),
		semconv.MessagingMessageID(ev.ID), semconv.MessagingConsumerGroupName(consumer),
	))
}

// endSpan ends span, marking it failed by err.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
