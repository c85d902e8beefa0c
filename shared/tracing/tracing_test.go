package tracing_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/tracing"
)

func recorded(t *testing.T) (*tracing.Tracing, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tracing.New(tp), rec
}

func TestOffWrapsNothing(t *testing.T) {
	tr, err := tracing.Setup(context.Background(), "patient", "")
	require.NoError(t, err)
	assert.False(t, tr.Enabled())
	h := http.NewServeMux()
	assert.Equal(t, http.Handler(h), tr.Handler(h, "patient"), "no handler wrapping when off")
	rt := http.DefaultTransport
	assert.Equal(t, rt, tr.Transport(rt), "no transport wrapping when off")
	_, span := tr.Tracer().Start(context.Background(), "x")
	assert.False(t, span.IsRecording())
	require.NoError(t, tr.Shutdown(context.Background()))

	var none *tracing.Tracing
	assert.False(t, none.Enabled())
	require.NoError(t, none.Shutdown(context.Background()))
}

func TestSetupRejectsAnEndpointThatIsNoURL(t *testing.T) {
	for _, e := range []string{"collector:4318", "ftp://collector", "http://"} {
		_, err := tracing.Setup(context.Background(), "patient", e)
		assert.ErrorContains(t, err, "OTLP endpoint", e)
	}
}

// Spans reach an OTLP/HTTP collector at the default path when the process
// shuts its tracing down.
func TestSetupExportsOverOTLP(t *testing.T) {
	var posts atomic.Int32
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			_, _ = io.Copy(io.Discard, r.Body)
			posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	tr, err := tracing.Setup(context.Background(), "patient", collector.URL)
	require.NoError(t, err)
	require.True(t, tr.Enabled())
	_, span := tr.Tracer().Start(context.Background(), "work")
	span.End()
	require.NoError(t, tr.Shutdown(context.Background()))
	assert.Equal(t, int32(1), posts.Load())
}

// A client span's traceparent makes the server's span its child.
func TestHandlerAndTransportJoinOneTrace(t *testing.T) {
	tr, rec := recorded(t)
	var seen string
	srv := httptest.NewServer(tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = tracing.TraceParent(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}), "server"))
	defer srv.Close()
	client := &http.Client{Transport: tr.Transport(nil)}

	ctx, root := tr.Tracer().Start(context.Background(), "root")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/x", nil)
	require.NoError(t, err)
	res, err := client.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	root.End()

	spans := rec.Ended()
	require.Len(t, spans, 3)
	want := root.SpanContext().TraceID()
	kinds := map[trace.SpanKind]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		assert.Equal(t, want, s.SpanContext().TraceID(), s.Name())
		kinds[s.SpanKind()] = s
	}
	require.Contains(t, kinds, trace.SpanKindServer)
	require.Contains(t, kinds, trace.SpanKindClient)
	assert.Equal(t, kinds[trace.SpanKindClient].SpanContext().SpanID(), kinds[trace.SpanKindServer].Parent().SpanID())
	assert.Contains(t, seen, kinds[trace.SpanKindServer].SpanContext().SpanID().String())
}

func TestProbesAndFeedPollsAreNotTraced(t *testing.T) {
	tr, rec := recorded(t)
	h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), "server")
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: tr.Transport(nil)}
	for _, path := range []string{"/health/ready", "/metrics", "/internal/revocations"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
		res, err := client.Get(srv.URL + path)
		require.NoError(t, err)
		_ = res.Body.Close()
	}
	assert.Empty(t, rec.Ended(), "neither a server nor a client span")
}

func TestTraceParentRoundTrip(t *testing.T) {
	tr, _ := recorded(t)
	assert.Empty(t, tracing.TraceParent(context.Background()))
	_, _, ok := tracing.IDs(context.Background())
	assert.False(t, ok)

	ctx, span := tr.Tracer().Start(context.Background(), "x")
	defer span.End()
	tp := tracing.TraceParent(ctx)
	assert.Regexp(t, `^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`, tp)

	back := tracing.WithTraceParent(context.Background(), tp)
	traceID, spanID, ok := tracing.IDs(back)
	require.True(t, ok)
	assert.Equal(t, span.SpanContext().TraceID().String(), traceID)
	assert.Equal(t, span.SpanContext().SpanID().String(), spanID)
	assert.True(t, trace.SpanContextFromContext(back).IsRemote())

	_, _, ok = tracing.IDs(tracing.WithTraceParent(context.Background(), "garbage"))
	assert.False(t, ok)
}

// A client span (App.HTTPClient, and every upstream the gateway forwards to)
// records scheme, host and path only, and a server span the path: patient search takes ?q=<name>&email=
// &dateOfBirth=, records ?reason=, and cursors hold names. The server still
// gets the query, and the traceparent.
func TestClientSpanCarriesNoQueryString(t *testing.T) {
	tr, rec := recorded(t)
	var query, traceparent string
	srv := httptest.NewServer(tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query, traceparent = r.URL.RawQuery, r.Header.Get("traceparent")
	}), "server"))
	defer srv.Close()
	client := &http.Client{Transport: tr.Transport(http.DefaultTransport)}
	const q = "q=Smith&email=alice%40example.com&dateOfBirth=1980-02-03"
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/api/v1/patients?"+q+"#Smith", nil)
	require.NoError(t, err)
	res, err := client.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()

	assert.Equal(t, q, query, "the request sent keeps its query")
	assert.NotEmpty(t, traceparent)
	assert.Equal(t, srv.URL+"/api/v1/patients?"+q+"#Smith", req.URL.String(), "the caller's request is untouched")
	spans := rec.Ended()
	require.Len(t, spans, 2, "a server and a client span")
	var full string
	for _, s := range spans {
		for _, a := range s.Attributes() {
			v := a.Value.Emit()
			if a.Key == "url.full" {
				full = v
			}
			for _, pii := range []string{"Smith", "example.com", "1980-02-03"} {
				assert.NotContains(t, v, pii, "%s span attribute %s", s.SpanKind(), a.Key)
			}
		}
	}
	assert.Equal(t, srv.URL+"/api/v1/patients", full)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A traced transport under another, reached by a request rewritten in
// between, sends the rewritten request, not the one the outer one took.
func TestNestedTransportsSendTheRequestTheyAreGiven(t *testing.T) {
	tr, _ := recorded(t)
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.URL.RequestURI()
	}))
	defer srv.Close()
	inner := tr.Transport(http.DefaultTransport)
	rewrite := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Path, r.URL.RawQuery = "/elsewhere", ""
		return inner.RoundTrip(r)
	})
	client := &http.Client{Transport: tr.Transport(rewrite)}
	res, err := client.Get(srv.URL + "/api/v1/patients?q=Smith")
	require.NoError(t, err)
	_ = res.Body.Close()
	assert.Equal(t, "/elsewhere", got)
}
