package edge_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/tracing"
)

// With tracing on, the gateway continues the caller's trace in a server
// span named by route, calls the service in a client span whose
// traceparent the service receives, and logs the ids.
func TestTracedRequest(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	var logs bytes.Buffer
	h := newHarness(t, options{tracing: tracing.New(tp), accessLog: &logs})

	const caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	rr := h.do(req{path: "/api/v1/patients/p1", token: h.token("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"),
		header: http.Header{"Traceparent": {caller}}})
	require.Equal(t, http.StatusOK, rr.Code)

	spans := rec.Ended()
	byKind := map[trace.SpanKind]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byKind[s.SpanKind()] = s
	}
	server, client := byKind[trace.SpanKindServer], byKind[trace.SpanKindClient]
	require.NotNil(t, server)
	require.NotNil(t, client)
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", server.SpanContext().TraceID().String())
	assert.Equal(t, "b7ad6b7169203331", server.Parent().SpanID().String(), "the caller's span is the parent")
	assert.Equal(t, "GET /api/v1/patients/**", server.Name())
	assert.Equal(t, server.SpanContext().SpanID(), client.Parent().SpanID())

	got := h.patients[0].lastRequest().Header.Get("Traceparent")
	assert.Equal(t, "00-0af7651916cd43dd8448eb211c80319c-"+client.SpanContext().SpanID().String()+"-01", got,
		"the service continues the gateway's client span")
	assert.Contains(t, logs.String(), " traceId=0af7651916cd43dd8448eb211c80319c spanId="+server.SpanContext().SpanID().String()+"\n")
}

// With tracing off, a caller's traceparent passes through untouched and
// the access log has no ids.
func TestUntracedRequestPassesTraceparentOn(t *testing.T) {
	var logs bytes.Buffer
	h := newHarness(t, options{accessLog: &logs})
	const caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	rr := h.do(req{path: "/api/v1/patients/p1", token: h.token("0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"),
		header: http.Header{"Traceparent": {caller}}})
	require.Equal(t, http.StatusOK, rr.Code)
	assert.Equal(t, caller, h.patients[0].lastRequest().Header.Get("Traceparent"))
	assert.NotContains(t, logs.String(), "traceId")
}
