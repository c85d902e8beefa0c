package httpmw_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/httpjson"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/requestid"
)

type fixture struct {
	logs    *logtest.Buffer
	reg     *prometheus.Registry
	metrics *metrics.HTTP
	handler http.Handler
}

// newFixture stacks the standard middlewares around h with an info logger.
func newFixture(t *testing.T, h http.Handler, o httpmw.Options) *fixture {
	t.Helper()
	f := &fixture{logs: &logtest.Buffer{}, reg: prometheus.NewRegistry()}
	logger, err := logging.New(f.logs, "test", "logfmt", "info")
	require.NoError(t, err)
	f.metrics = metrics.NewHTTP(f.reg)
	o.Logger, o.Metrics = logger, f.metrics
	f.handler = httpmw.Stack(h, o)
	return f
}

func (f *fixture) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, r)
	return rec
}

func problemBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	assert.Equal(t, problem.ContentType, rec.Header().Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	return body
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestStackRequestID(t *testing.T) {
	tests := []struct {
		name     string
		incoming string
		keep     bool
	}{
		{"absent", "", false},
		{"valid", "client-id_42.abc", true},
		{"valid at 128 characters", strings.Repeat("a", 128), true},
		{"spaces", "has a space", false},
		{"too long", strings.Repeat("a", 129), false},
		{"control character", "abc\tdef", false},
		{"not ascii", "idé", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen string
			f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = requestid.From(r.Context())
			}), httpmw.Options{})
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.incoming != "" {
				r.Header.Set(requestid.Header, tc.incoming)
			}

			rec := f.serve(r)

			got := rec.Header().Get(requestid.Header)
			assert.Equal(t, seen, got, "the handler sees the echoed ID")
			if tc.keep {
				assert.Equal(t, tc.incoming, got)
			} else {
				assert.Regexp(t, hexID, got)
			}
			assert.Contains(t, f.logs.String(), "requestId="+got)
		})
	}
}

func TestStackGeneratesDistinctIDs(t *testing.T) {
	f := newFixture(t, http.NotFoundHandler(), httpmw.Options{})
	a := f.serve(httptest.NewRequest(http.MethodGet, "/", nil)).Header().Get(requestid.Header)
	b := f.serve(httptest.NewRequest(http.MethodGet, "/", nil)).Header().Get(requestid.Header)
	assert.NotEqual(t, a, b)
}

func TestStackPanicIs500ProblemAndLogsStack(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom: secret connection string")
	}), httpmw.Options{})
	r := httptest.NewRequest(http.MethodGet, "/api/v1/crash", nil)
	r.Header.Set(requestid.Header, "rid-panic")

	rec := f.serve(r)

	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	body := problemBody(t, rec)
	assert.EqualValues(t, 500, body["status"])
	assert.Equal(t, "rid-panic", body["requestId"])
	assert.NotContains(t, rec.Body.String(), "secret")
	assert.NotContains(t, rec.Body.String(), "goroutine")
	assert.NotContains(t, rec.Body.String(), ".go:")

	logs := f.logs.String()
	assert.Contains(t, logs, "panic serving request")
	assert.Contains(t, logs, "boom: secret connection string")
	assert.Contains(t, logs, "httpmw_test.go", "the stack of the panic is logged")
	assert.Contains(t, logs, "requestId=rid-panic")
	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("unmatched", "GET", "500")))
}

func TestRecoverRepanicsAbortHandler(t *testing.T) {
	h := httpmw.Recover(logging.Nop())(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	assert.PanicsWithValue(t, http.ErrAbortHandler, func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	})
}

func TestStackBodyLimitByContentLength(t *testing.T) {
	called := false
	f := newFixture(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }),
		httpmw.Options{MaxBodyBytes: 10})

	rec := f.serve(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 11))))

	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Contains(t, problemBody(t, rec)["detail"], "10 bytes")
	assert.False(t, called, "the handler never sees an oversize body")
}

func TestStackBodyLimitWhileStreaming(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]string
		if err := httpjson.Decode(r, &v, 1<<20); err != nil {
			problem.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}), httpmw.Options{MaxBodyBytes: 32})

	small := httptest.NewRequest(http.MethodPost, "/", nil)
	small.ContentLength, small.Body = -1, io.NopCloser(strings.NewReader(`{"a":"b"}`))
	assert.Equal(t, http.StatusNoContent, f.serve(small).Code)

	big := httptest.NewRequest(http.MethodPost, "/", nil)
	big.ContentLength = -1 // unknown length: the limit must hold while reading
	big.Body = io.NopCloser(strings.NewReader(`{"a":"` + strings.Repeat("x", 100) + `"}`))
	rec := f.serve(big)

	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Contains(t, problemBody(t, rec)["detail"], "32 bytes")
}

func TestStackBodyLimitRawRead(t *testing.T) {
	var readErr error
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, readErr = io.ReadAll(r.Body)
	}), httpmw.Options{MaxBodyBytes: 8})
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.ContentLength, r.Body = -1, io.NopCloser(strings.NewReader(strings.Repeat("x", 9)))

	f.serve(r)

	var mbe *http.MaxBytesError
	require.ErrorAs(t, readErr, &mbe)
	assert.EqualValues(t, 8, mbe.Limit)
}

func TestStackDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		want    time.Duration
	}{
		{"given", 2 * time.Second, 2 * time.Second},
		{"default", 0, httpmw.DefaultTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var deadline time.Time
			var ok bool
			f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				deadline, ok = r.Context().Deadline()
			}), httpmw.Options{Timeout: tc.timeout})
			before := time.Now()

			f.serve(httptest.NewRequest(http.MethodGet, "/", nil))

			require.True(t, ok, "the request context has a deadline")
			assert.False(t, deadline.Before(before.Add(tc.want)), "deadline %v too early", deadline)
			assert.False(t, deadline.After(time.Now().Add(tc.want)), "deadline %v too late", deadline)
		})
	}
}

func TestStackSecurityHeaders(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {})
	f := newFixture(t, router, httpmw.Options{})

	for _, path := range []string{"/ok", "/missing"} {
		rec := f.serve(httptest.NewRequest(http.MethodGet, path, nil))
		assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"), path)
		assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"), path)
		assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"), path)
	}
}

func TestNewRouterNotFoundAndMethodNotAllowed(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/api/v1/items/{id}", func(w http.ResponseWriter, r *http.Request) {}).Methods(http.MethodGet)
	f := newFixture(t, router, httpmw.Options{})

	rec := f.serve(httptest.NewRequest(http.MethodGet, "/api/v1/nothing", nil))
	assert.Equal(t, http.StatusNotFound, rec.Code)
	body := problemBody(t, rec)
	assert.EqualValues(t, 404, body["status"])
	assert.Equal(t, "/api/v1/nothing", body["instance"])
	assert.NotEmpty(t, body["requestId"])

	rec = f.serve(httptest.NewRequest(http.MethodDelete, "/api/v1/items/7", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	body = problemBody(t, rec)
	assert.EqualValues(t, 405, body["status"])
	assert.Equal(t, "/api/v1/items/7", body["instance"])
	assert.Equal(t, "GET", rec.Header().Get("Allow"))
}

// The Allow header of a 405 lists every method the path takes, from routes
// registered apart, and none of another path's.
func TestMethodNotAllowedListsTheMethodsOfThePath(t *testing.T) {
	router := httpmw.NewRouter()
	noop := func(http.ResponseWriter, *http.Request) {}
	router.HandleFunc("/api/v1/items", noop).Methods(http.MethodGet, http.MethodHead)
	router.HandleFunc("/api/v1/items", noop).Methods(http.MethodPost)
	router.HandleFunc("/api/v1/items/{id}", noop).Methods(http.MethodPut)
	router.HandleFunc("/api/v1/items/{id}/read", noop).Methods(http.MethodPost)
	f := newFixture(t, router, httpmw.Options{})

	for path, want := range map[string]string{
		"/api/v1/items":        "GET, HEAD, POST",
		"/api/v1/items/7":      "PUT",
		"/api/v1/items/7/read": "POST",
	} {
		rec := f.serve(httptest.NewRequest(http.MethodPatch, path, nil))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, path)
		assert.Equal(t, want, rec.Header().Get("Allow"), path)
	}
}

func TestStackMetricsUseRouteTemplate(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/items/{id}", httpmw.Route(r.Context()))
		if mux.Vars(r)["id"] == "gone" {
			w.WriteHeader(http.StatusGone)
		}
	}).Methods(http.MethodGet)
	f := newFixture(t, router, httpmw.Options{})

	for _, id := range []string{"1", "2", "3", "gone"} {
		f.serve(httptest.NewRequest(http.MethodGet, "/items/"+id, nil))
	}
	f.serve(httptest.NewRequest(http.MethodGet, "/nope/1", nil))
	f.serve(httptest.NewRequest(http.MethodGet, "/nope/2", nil))

	assert.Equal(t, 3.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("/items/{id}", "GET", "200")))
	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("/items/{id}", "GET", "410")))
	assert.Equal(t, 2.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("unmatched", "GET", "404")))
	assert.Equal(t, 0.0, testutil.ToFloat64(f.metrics.InFlight))

	// Only templates and "unmatched" become label values: no raw path leaks
	// into the series, so their number stays bounded.
	mfs, err := f.reg.Gather()
	require.NoError(t, err)
	routes := map[string]bool{}
	durations := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					routes[l.GetValue()] = true
					if mf.GetName() == "medisync_http_request_duration_seconds" {
						durations[l.GetValue()] = m.GetHistogram().GetSampleCount()
					}
				}
			}
		}
	}
	assert.Equal(t, map[string]bool{"/items/{id}": true, "unmatched": true}, routes)
	assert.Equal(t, map[string]uint64{"/items/{id}": 4, "unmatched": 2}, durations)
}

func TestStackInFlightDuringRequest(t *testing.T) {
	var f *fixture
	var during float64
	f = newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		during = testutil.ToFloat64(f.metrics.InFlight)
	}), httpmw.Options{})

	f.serve(httptest.NewRequest(http.MethodGet, "/", nil))

	assert.Equal(t, 1.0, during)
	assert.Equal(t, 0.0, testutil.ToFloat64(f.metrics.InFlight))
}

func TestRouteTemplateThroughSubrouter(t *testing.T) {
	router := httpmw.NewRouter()
	api := router.PathPrefix("/api/v1").Subrouter()
	api.HandleFunc("/doctors/{id}/slots", func(w http.ResponseWriter, r *http.Request) {}).Methods(http.MethodGet)
	f := newFixture(t, router, httpmw.Options{})

	f.serve(httptest.NewRequest(http.MethodGet, "/api/v1/doctors/42/slots", nil))

	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("/api/v1/doctors/{id}/slots", "GET", "200")))
}

func TestSetRouteForPlainHandler(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpmw.SetRoute(r.Context(), "/proxy")
		w.WriteHeader(http.StatusAccepted)
	}), httpmw.Options{})

	f.serve(httptest.NewRequest(http.MethodGet, "/proxy/anything", nil))

	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("/proxy", "GET", "202")))
	assert.Empty(t, httpmw.Route(context.Background()))
	httpmw.SetRoute(context.Background(), "/ignored") // no request info: a no-op, not a panic
}

func TestLongPollHasItsOwnHistogram(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/watch", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Has("index") {
			httpmw.LongPoll(r.Context())
		}
	})
	f := newFixture(t, router, httpmw.Options{})

	f.serve(httptest.NewRequest(http.MethodGet, "/watch?index=3", nil))
	f.serve(httptest.NewRequest(http.MethodGet, "/watch?index=4", nil))
	f.serve(httptest.NewRequest(http.MethodGet, "/watch", nil))

	// Both kinds are counted as requests; only the plain read is timed
	// with the requests whose percentiles the dashboards show.
	assert.Equal(t, 3.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("/watch", "GET", "200")))
	assert.Equal(t, 1, histogramCount(t, f.reg, "medisync_http_request_duration_seconds"))
	assert.Equal(t, 2, histogramCount(t, f.reg, "medisync_http_long_poll_duration_seconds"))
	httpmw.LongPoll(context.Background()) // no request info: a no-op, not a panic
}

// histogramCount returns the observations of the one series of name in reg.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) int {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Len(t, mf.GetMetric(), 1)
			return int(mf.GetMetric()[0].GetHistogram().GetSampleCount())
		}
	}
	return 0
}

func TestAccessLog(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/api/v1/patients/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello"))
	})
	f := newFixture(t, router, httpmw.Options{})
	r := httptest.NewRequest(http.MethodGet, "/api/v1/patients/p-1?token=s3cr3t&email=ada%40example.com", nil)
	r.Header.Set(requestid.Header, "rid-log")

	f.serve(r)

	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	require.Len(t, lines, 1)
	line := lines[0]
	for _, want := range []string{
		"level=info", "service=test", "msg=request", "method=GET", "requestId=rid-log",
		"route=/api/v1/patients/{id}", "path=/api/v1/patients/p-1", "status=200", "bytes=5", "durationMs=", "caller=httpmw.go:",
	} {
		assert.Contains(t, line, want)
	}
	assert.NotContains(t, line, "s3cr3t")
	assert.NotContains(t, line, "token")
	assert.NotContains(t, line, "ada")
	assert.NotContains(t, line, "?")
}

func TestAccessLogLevels(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/health/live", func(w http.ResponseWriter, r *http.Request) {})
	router.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {})
	router.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	f := newFixture(t, router, httpmw.Options{})

	f.serve(httptest.NewRequest(http.MethodGet, "/health/live", nil))
	f.serve(httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Empty(t, f.logs.String(), "probes and scrapes log at debug only")

	f.serve(httptest.NewRequest(http.MethodGet, "/fail", nil))
	assert.Contains(t, f.logs.String(), "level=warn")
	assert.Contains(t, f.logs.String(), "status=502")
}

func TestStackFlushesThroughWrappers(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("part"))
		require.NoError(t, http.NewResponseController(w).Flush())
	}), httpmw.Options{})

	rec := f.serve(httptest.NewRequest(http.MethodGet, "/", nil))

	assert.True(t, rec.Flushed)
	assert.Equal(t, "part", rec.Body.String())
}

func TestStackOverRealServer(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		var v map[string]string
		if err := httpjson.Decode(r, &v, 0); err != nil {
			problem.WriteError(w, r, err)
			return
		}
		_ = httpjson.Write(w, http.StatusOK, v)
	}).Methods(http.MethodPost)
	f := newFixture(t, router, httpmw.Options{MaxBodyBytes: 64})
	srv := httptest.NewServer(f.handler)
	defer srv.Close()

	// A chunked body, whose size the server learns only by reading it.
	pr, pw := io.Pipe()
	go func() {
		_, _ = fmt.Fprintf(pw, `{"a":"%s"}`, strings.Repeat("x", 200))
		_ = pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/echo", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Equal(t, problem.ContentType, resp.Header.Get("Content-Type"))

	resp2, err := srv.Client().Post(srv.URL+"/echo", "application/json", strings.NewReader(`{"a":"b"}`))
	require.NoError(t, err)
	defer resp2.Body.Close()
	assert.Equal(t, http.StatusOK, resp2.StatusCode)
	assert.Regexp(t, hexID, resp2.Header.Get(requestid.Header))
}

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) httpmw.Middleware {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				order = append(order, name)
				next.ServeHTTP(w, r)
			})
		}
	}
	h := httpmw.Chain(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { order = append(order, "handler") }),
		mw("outer"), mw("inner"))

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))

	assert.Equal(t, []string{"outer", "inner", "handler"}, order)
}

func TestStackWithoutLoggerOrMetrics(t *testing.T) {
	h := httpmw.Stack(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(errors.New("x")) }), httpmw.Options{})
	rec := httptest.NewRecorder()

	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))

	assert.Equal(t, http.StatusInternalServerError, rec.Code)
}

func TestQuietRoutesLogSuccessesAtDebugOnly(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/beats/{id}", func(w http.ResponseWriter, r *http.Request) {
		if mux.Vars(r)["id"] == "gone" {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	router.HandleFunc("/other", func(w http.ResponseWriter, r *http.Request) {})
	f := newFixture(t, router, httpmw.Options{QuietRoutes: []string{"/beats/{id}"}})

	f.serve(httptest.NewRequest(http.MethodGet, "/beats/1", nil))
	assert.Empty(t, f.logs.String(), "a successful quiet route is not logged at info")
	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("/beats/{id}", "GET", "200")), "but it is counted")

	f.serve(httptest.NewRequest(http.MethodGet, "/beats/gone", nil))
	assert.Contains(t, f.logs.String(), "status=404", "a failing quiet route is logged")

	f.serve(httptest.NewRequest(http.MethodGet, "/other", nil))
	assert.Contains(t, f.logs.String(), "route=/other")
}

func TestAQuietRouteWithAMethodQuietsThatMethodAlone(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/beats/{id}", func(http.ResponseWriter, *http.Request) {}).Methods(http.MethodPut, http.MethodDelete)
	f := newFixture(t, router, httpmw.Options{QuietRoutes: []string{"PUT /beats/{id}"}})

	f.serve(httptest.NewRequest(http.MethodPut, "/beats/1", nil))
	assert.Empty(t, f.logs.String(), "a successful renewal is not logged at info")

	f.serve(httptest.NewRequest(http.MethodDelete, "/beats/1", nil))
	assert.Contains(t, f.logs.String(), "method=DELETE", "another method of the template is logged")
}

// Thousands of invented methods and paths, as a client could send them on one
// connection, must not add a series each: the count of series stays fixed.
func TestMetricsSeriesStayBoundedUnderInventedMethodsAndPaths(t *testing.T) {
	router := httpmw.NewRouter()
	router.HandleFunc("/items/{id}", func(http.ResponseWriter, *http.Request) {}).Methods(http.MethodGet)
	f := newFixture(t, router, httpmw.Options{})

	series := func() int {
		mfs, err := f.reg.Gather()
		require.NoError(t, err)
		n := 0
		for _, mf := range mfs {
			n += len(mf.GetMetric())
		}
		return n
	}
	warm := func(i int) {
		f.serve(httptest.NewRequest("GET", "/items/1", nil))
		f.serve(httptest.NewRequest("POST", "/items/1", nil))
		f.serve(httptest.NewRequest("GET", fmt.Sprintf("/nope/%d", i), nil))
		r := httptest.NewRequest("GET", "/items/1", nil)
		r.Method = fmt.Sprintf("X%d", i)
		f.serve(r)
	}
	warm(0)
	before := series()
	for i := 1; i <= 5000; i++ {
		warm(i)
	}
	assert.Equal(t, before, series(), "invented methods and paths created series")
	assert.Equal(t, 5001.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("unmatched", "OTHER", "405")))
	assert.NotContains(t, f.logs.String(), "method=X4999", "the access log shows the bounded method too")
}

func TestHeaderLimitIsAProblem(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), httpmw.Options{})
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Big", strings.Repeat("a", 100<<10))
	rec := f.serve(r)
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, rec.Code)
	assert.Equal(t, float64(431), problemBody(t, rec)["status"])

	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Big", strings.Repeat("a", 32<<10))
	assert.Equal(t, http.StatusOK, f.serve(r).Code)
}

func TestAnswerFailedAfterItsStatusIsCountedWithTheFailure(t *testing.T) {
	f := newFixture(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpmw.SetRoute(r.Context(), "/content")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("part of it"))
		httpmw.Failed(r.Context(), http.StatusInternalServerError)
	}), httpmw.Options{})

	rec := f.serve(httptest.NewRequest(http.MethodGet, "/content", nil))

	assert.Equal(t, http.StatusOK, rec.Code, "the client was sent its status")
	assert.Equal(t, 0.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("/content", "GET", "200")))
	assert.Equal(t, 1.0, testutil.ToFloat64(f.metrics.Requests.WithLabelValues("/content", "GET", "500")))
	assert.Contains(t, f.logs.String(), "level=warn")
	assert.Contains(t, f.logs.String(), "status=500")
	httpmw.Failed(context.Background(), http.StatusInternalServerError) // no request info: a no-op, not a panic
}

// A body of exactly the limit passes; the default limit is 1 MiB.
func TestBodyLimitBoundary(t *testing.T) {
	called := false
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })
	f := newFixture(t, h, httpmw.Options{MaxBodyBytes: 10})
	rec := f.serve(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 10))))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, called, "a body of exactly the limit")

	f = newFixture(t, h, httpmw.Options{})
	called = false
	rec = f.serve(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 1<<20))))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, called, "1 MiB by default")
	called = false
	rec = f.serve(httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 1<<20+1))))
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Contains(t, problemBody(t, rec)["detail"], strconv.Itoa(1<<20)+" bytes")
	assert.False(t, called)
}
