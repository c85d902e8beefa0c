package outbox_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
	"github.com/medisync/medisync/shared/tracing"
)

// An event written in a request's transaction, relayed later with a context
// of its own and handled by a consumer, stays in the request's trace:
// request span -> publish span -> consumer span, and the handler's context
// continues it (so its own writes and calls do too).
func TestOneTraceFromWriteThroughRelayToConsumer(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tracing.New(tp)

	db := sqltest.SQLite(t, migrations(t))
	nats := brokertest.Embedded(t)
	b, err := broker.Open(context.Background(), nats.URL(), broker.Options{Tracing: tr})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	producer := brokertest.Name("p")

	handled := make(chan trace.SpanContext, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, b.Consume(ctx, broker.Consumer{Name: "notification", Types: []string{producer + ".booked"},
			Handler: func(ctx context.Context, _ events.Event) error {
				handled <- trace.SpanContextFromContext(ctx)
				return nil
			}}))
	}()
	t.Cleanup(func() { cancel(); <-done })

	// The request: its span is in ctx when the change and its event are written.
	reqCtx, reqSpan := tr.Tracer().Start(context.Background(), "POST /api/v1/appointments", trace.WithSpanKind(trace.SpanKindServer))
	ev, err := events.New(producer+".booked", 1, "a1", map[string]string{"slot": "s1"}, time.Now())
	require.NoError(t, err)
	require.NoError(t, db.InTx(reqCtx, func(tx *sql.Tx) error { return outbox.Write(reqCtx, tx, ev) }))
	reqSpan.End()

	n, err := outbox.NewRelay(db, b, outbox.RelayOptions{}).RelayOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)

	var inHandler trace.SpanContext
	select {
	case inHandler = <-handled:
	case <-time.After(30 * time.Second):
		t.Fatal("the event never reached the consumer")
	}
	want := reqSpan.SpanContext().TraceID()
	assert.Equal(t, want, inHandler.TraceID(), "the handler continues the request's trace")

	var publish, process sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		for _, s := range rec.Ended() {
			switch s.SpanKind() {
			case trace.SpanKindProducer:
				publish = s
			case trace.SpanKindConsumer:
				process = s
			}
		}
		return publish != nil && process != nil
	}, 10*time.Second, 10*time.Millisecond)
	assert.Equal(t, want, publish.SpanContext().TraceID())
	assert.Equal(t, reqSpan.SpanContext().SpanID(), publish.Parent().SpanID(), "publish is the request's child")
	assert.Equal(t, want, process.SpanContext().TraceID())
	assert.Equal(t, publish.SpanContext().SpanID(), process.Parent().SpanID(), "processing is the publish's child")
	assert.Equal(t, process.SpanContext().SpanID(), inHandler.SpanID())
	assert.Equal(t, "process "+producer+".booked", process.Name())
}

// Without tracing the envelope still carries the request's trace context
// (from a caller that traced) and the handler's context continues it.
func TestTraceContextPassesThroughWithTracingOff(t *testing.T) {
	db := sqltest.SQLite(t, migrations(t))
	nats := brokertest.Embedded(t)
	b, err := broker.Open(context.Background(), nats.URL(), broker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	producer := brokertest.Name("p")
	handled := make(chan events.Event, 1)
	got := make(chan trace.SpanContext, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, b.Consume(ctx, broker.Consumer{Name: "notification", Types: []string{producer + ".booked"},
			Handler: func(ctx context.Context, ev events.Event) error {
				handled <- ev
				got <- trace.SpanContextFromContext(ctx)
				return nil
			}}))
	}()
	t.Cleanup(func() { cancel(); <-done })

	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	reqCtx := tracing.WithTraceParent(context.Background(), parent)
	ev, err := events.New(producer+".booked", 1, "a1", map[string]string{}, time.Now())
	require.NoError(t, err)
	require.NoError(t, db.InTx(reqCtx, func(tx *sql.Tx) error { return outbox.Write(reqCtx, tx, ev) }))
	_, err = outbox.NewRelay(db, b, outbox.RelayOptions{}).RelayOnce(context.Background())
	require.NoError(t, err)
	select {
	case ev := <-handled:
		assert.Equal(t, parent, ev.TraceParent, "the envelope carries the writer's traceparent")
		assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", (<-got).TraceID().String())
	case <-time.After(30 * time.Second):
		t.Fatal("the event never reached the consumer")
	}
}
