// Package tracing sets up OpenTelemetry tracing: an OTLP exporter when an
// endpoint is configured and nothing otherwise, W3C trace context carried
// over HTTP and in event envelopes, and the trace ids that log lines show.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// InstrumentationName names the tracer of the project's own spans.
const InstrumentationName = "github.com/medisync/medisync/shared/tracing"

// Tracing is a process's tracing: a provider and how to flush it. The nil
// *Tracing and the one Setup returns without an endpoint are off: their
// provider is a no-op and Handler and Transport wrap nothing, so tracing
// costs nothing when it is not wanted.
type Tracing struct {
	provider trace.TracerProvider
	shutdown func(context.Context) error
}

// Setup returns the tracing of service: spans exported over OTLP/HTTP to
// endpoint (http://collector:4318, the path /v1/traces added when the URL
// has none), or tracing off when endpoint is empty. Shutdown flushes the
// spans still buffered.
func Setup(ctx context.Context, service, endpoint string) (*Tracing, error) {
	if endpoint == "" {
		return &Tracing{}, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing: OTLP endpoint %q: want http(s)://host:port", endpoint)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v1/traces"
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()), otlptracehttp.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx, resource.WithAttributes(semconv.ServiceName(service)), resource.WithHost(), resource.WithProcessPID())
	if err != nil {
		// A partial resource still names the service.
		res = resource.NewSchemaless(semconv.ServiceName(service))
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		// A caller's sampling decision stands; a new trace is always kept
		// (the collector samples further if it must).
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	)
	return &Tracing{provider: tp, shutdown: tp.Shutdown}, nil
}

// New returns tracing on through tp: a test's provider over a
// tracetest.SpanRecorder, for instance. The caller shuts tp down.
func New(tp trace.TracerProvider) *Tracing {
	return &Tracing{provider: tp}
}

// Enabled reports whether spans are recorded.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// Provider returns the tracer provider, a no-op one when tracing is off.
func (t *Tracing) Provider() trace.TracerProvider {
	if !t.Enabled() {
		return noop.NewTracerProvider()
	}
	return t.provider
}

// Tracer returns the tracer of the project's own spans (broker, gateway).
func (t *Tracing) Tracer() trace.Tracer { return t.Provider().Tracer(InstrumentationName) }

// Shutdown flushes and stops the exporter; nothing to do when off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	if err := t.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// Propagator is the W3C trace context: the traceparent and tracestate
// headers.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// untraced are the probe and scrape paths and the revocation feed's long
// polls: frequent machine traffic, apart from any request, that would only
// crowd the traces.
var untraced = map[string]bool{"/metrics": true, "/health/live": true, "/health/ready": true, "/internal/revocations": true}

func traced(r *http.Request) bool { return !untraced[r.URL.Path] }

// Handler wraps h in a server span per request, continuing the caller's
// trace; h itself is returned when tracing is off. The span is named
// "METHOD" until the router names its route (httpmw.TagRoute).
func (t *Tracing) Handler(h http.Handler, operation string) http.Handler {
	if !t.Enabled() {
		return h
	}
	return otelhttp.NewHandler(h, operation,
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(Propagator()),
		// Request metrics are the Prometheus ones (shared/metrics).
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(traced),
	)
}

// Transport wraps rt in a client span per request that passes the trace on
// in the traceparent header; rt itself is returned when tracing is off.
//
// The span knows the URL as scheme, host and path only: query strings carry
// names, emails, dates of birth, break-glass reasons and cursors that encode
// them (docs/logging.md). otelhttp is handed the request without its query
// and fragment, so no attribute it sets, in this version or a later one, can
// hold them; the request rt sends is the caller's, query and all.
func (t *Tracing) Transport(rt http.RoundTripper) http.RoundTripper {
	if !t.Enabled() {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return stripQuery{otelhttp.NewTransport(restoreQuery{rt},
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(Propagator()),
		// Request metrics are the Prometheus ones (shared/metrics).
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(traced),
	)}
}

// fullURLKey holds, in the context of a request stripQuery passed on, the
// URL the caller asked for.
type fullURLKey struct{}

// stripQuery passes a request on without its query and fragment, keeping
// the full URL in its context for restoreQuery.
type stripQuery struct{ next http.RoundTripper }

func (s stripQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	plain := r.URL == nil || (r.URL.RawQuery == "" && !r.URL.ForceQuery && r.URL.Fragment == "")
	if plain && r.Context().Value(fullURLKey{}) == nil {
		return s.next.RoundTrip(r)
	}
	// A context that already holds a URL (a call made with the context of
	// an earlier one) gets nil for this request, so that restoreQuery
	// sends this request's URL and never that one.
	var full *url.URL
	if !plain {
		full = r.URL
	}
	bare := r.Clone(context.WithValue(r.Context(), fullURLKey{}, full))
	if !plain {
		bare.URL.RawQuery, bare.URL.ForceQuery = "", false
		bare.URL.Fragment, bare.URL.RawFragment = "", ""
	}
	return s.next.RoundTrip(bare)
}

// restoreQuery sends the request with the URL stripQuery took from it; the
// headers are the ones otelhttp set (traceparent).
type restoreQuery struct{ next http.RoundTripper }

func (s restoreQuery) RoundTrip(r *http.Request) (*http.Response, error) {
	full, _ := r.Context().Value(fullURLKey{}).(*url.URL)
	if full == nil {
		return s.next.RoundTrip(r)
	}
	// A copy of the URL, as otelhttp's clone gave rt: rt may rewrite it.
	u := *full
	sent := *r
	sent.URL = &u
	return s.next.RoundTrip(&sent)
}

// TraceParent returns the W3C traceparent of the span in ctx, "" when ctx
// holds none: what an event envelope carries.
func TraceParent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	c := propagation.MapCarrier{}
	Propagator().Inject(ctx, c)
	return c["traceparent"]
}

// WithTraceParent returns ctx continuing the trace traceparent names, as a
// remote parent; ctx unchanged when traceparent is empty or malformed.
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return Propagator().Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}

// IDs returns the trace and span ids of the span in ctx, for log lines; ok
// is false when ctx holds no valid span.
func IDs(ctx context.Context) (traceID, spanID string, ok bool) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return "", "", false
	}
	return sc.TraceID().String(), sc.SpanID().String(), true
}
