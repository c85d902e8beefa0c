package wire_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/gateway/wire"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/tracing"
)

// One request through the gateway to a service, each verifying the token
// against the auth JWKS, forms one trace: the gateway's server span, its
// call upstream, the service's server span, and the JWKS fetches of both
// (auth's JWKS is down when they start, so each fetches the keys during the
// request). Every process is a shared/app with its real middleware stack,
// the gateway is wire.Build's, all recording into one span recorder.
func TestOneTraceThroughGatewayServiceAndJWKS(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := tracing.New(tp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	iss := authntest.NewIssuer(t)

	newApp := func(name string, args ...string) *app.App {
		a, err := app.New(ctx, app.Options{Name: name, DefaultAddr: ":0", Tracing: tr},
			append([]string{"-discovery-urls", "", "-log-level", "error"}, args...), nil, &bytes.Buffer{})
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		return a
	}

	// auth: its JWKS answers 503 until the others have started.
	var up atomic.Bool
	auth := newApp("auth")
	authRouter := auth.Router()
	jwks := iss.JWKS(t)
	authRouter.HandleFunc("/.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}).Methods(http.MethodGet)
	authSrv := httptest.NewServer(auth.Handler(authRouter))
	defer authSrv.Close()
	jwksURL := authSrv.URL + "/.well-known/jwks.json"

	// patient: a protected route behind the token check.
	patient := newApp("patient", "-jwks-url", jwksURL)
	verifier, err := patient.Verifier(ctx)
	require.NoError(t, err)
	patientRouter := patient.Router()
	patientRouter.Handle("/api/v1/patients/{id}", authn.Middleware(verifier)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))).Methods(http.MethodGet)
	patientSrv := httptest.NewServer(patient.Handler(patientRouter))
	defer patientSrv.Close()

	// gateway, every route's service at the patient instance.
	// Made without wire.Options, so with the services' drain: the gateway's
	// is set as its command would.
	gw := newApp("gateway", "-jwks-url", jwksURL, "-shutdown-timeout", wire.DefaultShutdownTimeout.String())
	addr := strings.TrimPrefix(patientSrv.URL, "http://")
	var fixed []string
	seen := map[string]bool{}
	for _, sp := range route.Defaults() {
		if !seen[sp.Service] {
			seen[sp.Service] = true
			fixed = append(fixed, sp.Service+"="+addr)
		}
	}
	h, closers, err := wire.Build(ctx, gw, wire.Settings{Upstreams: strings.Join(fixed, ","), RPS: 100, Burst: 100, StrictRPS: 1, StrictBurst: 1})
	require.NoError(t, err)
	defer func() {
		for _, c := range closers {
			_ = c(context.Background())
		}
	}()
	gwSrv := httptest.NewServer(h)
	defer gwSrv.Close()

	up.Store(true)
	rec.Reset()
	req, err := http.NewRequest(http.MethodGet, gwSrv.URL+"/api/v1/patients/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+iss.Token(t, authntest.Claims{UserID: "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee"}))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)

	spans := rec.Ended()
	var root sdktrace.ReadOnlySpan
	for _, s := range spans {
		if !s.Parent().IsValid() {
			require.Nil(t, root, "one root: %s and %s", name(root), s.Name())
			root = s
		}
	}
	require.NotNil(t, root)
	assert.Equal(t, "GET /api/v1/patients/**", root.Name())
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		assert.Equal(t, root.SpanContext().TraceID(), s.SpanContext().TraceID(), "%s in the request's trace", s.Name())
		byID[s.SpanContext().SpanID()] = s
	}
	// The service names of the spans on the way from each JWKS answer up to
	// the root.
	var paths []string
	for _, s := range spans {
		if s.SpanKind() != trace.SpanKindServer || s.Name() != "GET /.well-known/jwks.json" {
			continue
		}
		var hops []string
		for cur := s; cur != nil; cur = byID[cur.Parent().SpanID()] {
			hops = append(hops, cur.Name())
		}
		paths = append(paths, strings.Join(hops, " <- "))
	}
	assert.ElementsMatch(t, []string{
		"GET /.well-known/jwks.json <- HTTP GET <- GET /api/v1/patients/**",
		"GET /.well-known/jwks.json <- HTTP GET <- GET /api/v1/patients/{id} <- HTTP GET <- GET /api/v1/patients/**",
	}, paths, "auth's JWKS reached from the gateway and from patient within the request")
}

func name(s sdktrace.ReadOnlySpan) string {
	if s == nil {
		return ""
	}
	return s.Name()
}
