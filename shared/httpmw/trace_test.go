package httpmw_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/tracing"
)

// The server span, started before routing, takes the route template's name.
func TestRouterNamesTheServerSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	r := httpmw.NewRouter()
	r.HandleFunc("/api/v1/patients/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}).Methods(http.MethodGet)
	h := tracing.New(tp).Handler(httpmw.Stack(r, httpmw.Options{}), "patient")
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/patients/0190aaaa", nil))
	spans := rec.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, "GET /api/v1/patients/{id}", spans[0].Name())
}
