package metrics_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/metrics"
)

func familyNames(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := g.Gather()
	require.NoError(t, err)
	names := make([]string, 0, len(mfs))
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return names
}

func hasPrefix(names []string, prefix string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

func TestNewRegistryGathersRuntimeAndProcess(t *testing.T) {
	names := familyNames(t, metrics.NewRegistry())

	assert.Contains(t, names, "go_goroutines")
	assert.True(t, hasPrefix(names, "process_"), "process collector registered: %v", names)
}

func TestNewRegistryIsNotTheDefault(t *testing.T) {
	a, b := metrics.NewRegistry(), metrics.NewRegistry()

	assert.NotSame(t, a, b)
	assert.NotSame(t, prometheus.DefaultRegisterer, a)
	metrics.NewHTTP(a)
	metrics.NewHTTP(b) // a second server's registry takes the same collectors
}

func TestHandlerServesTextFormat(t *testing.T) {
	reg := metrics.NewRegistry()
	h := metrics.NewHTTP(reg)
	h.Requests.WithLabelValues("/items/{id}", "GET", "200").Inc()
	rec := httptest.NewRecorder()

	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))

	assert.Equal(t, http.StatusOK, rec.Code)
	body, err := io.ReadAll(rec.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `medisync_http_requests_total{code="200",method="GET",route="/items/{id}"} 1`)
	assert.Contains(t, string(body), "go_goroutines")
	assert.Contains(t, string(body), "medisync_http_requests_in_flight 0")
}

func TestNewHTTPNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := metrics.NewHTTP(reg)
	h.Requests.WithLabelValues("/a", "GET", "200").Inc()
	h.Duration.WithLabelValues("/a", "GET").Observe(0.01)
	h.InFlight.Inc()

	assert.ElementsMatch(t, []string{
		"medisync_http_requests_total",
		"medisync_http_request_duration_seconds",
		"medisync_http_requests_in_flight",
	}, familyNames(t, reg))
	assert.Panics(t, func() { metrics.NewHTTP(reg) }, "registering twice on one registry is a wiring fault")
}

func TestNewMethodTwoServicesOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	var doctor, patient metrics.Method
	require.NotPanics(t, func() {
		doctor = metrics.NewMethod(reg, "doctor")
		patient = metrics.NewMethod(reg, "patient")
	})

	doctor.Count.With("method", "CreateDoctor", "success", "true").Add(1)
	doctor.Count.With("method", "CreateDoctor", "success", "true").Add(1)
	doctor.Latency.With("method", "CreateDoctor", "success", "true").Observe(0.002)
	patient.Count.With("method", "GetPatient", "success", "false").Add(1)
	patient.Latency.With("method", "GetPatient", "success", "false").Observe(0.004)

	assert.ElementsMatch(t, []string{
		"medisync_doctor_method_calls_total",
		"medisync_doctor_method_duration_seconds",
		"medisync_patient_method_calls_total",
		"medisync_patient_method_duration_seconds",
	}, familyNames(t, reg))

	const want = `
# HELP medisync_doctor_method_calls_total Service method calls by method and outcome.
# TYPE medisync_doctor_method_calls_total counter
medisync_doctor_method_calls_total{method="CreateDoctor",success="true"} 2
# HELP medisync_patient_method_calls_total Service method calls by method and outcome.
# TYPE medisync_patient_method_calls_total counter
medisync_patient_method_calls_total{method="GetPatient",success="false"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"medisync_doctor_method_calls_total", "medisync_patient_method_calls_total"))
	n, err := testutil.GatherAndCount(reg, "medisync_doctor_method_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

func TestNewMethodSameServiceTwiceCollides(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.NewMethod(reg, "auth")
	assert.Panics(t, func() { metrics.NewMethod(reg, "auth") })
}

func TestMethodObserve(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.NewMethod(reg, "svc")
	m.Observe("Get", time.Now(), nil)
	m.Observe("Get", time.Now(), errors.New("boom"))
	m.Observe("Get", time.Now(), nil)
	out, err := reg.Gather()
	require.NoError(t, err)
	counts := map[string]float64{}
	for _, mf := range out {
		if mf.GetName() != "medisync_svc_method_calls_total" {
			continue
		}
		for _, mm := range mf.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == "success" {
					counts[l.GetValue()] = mm.GetCounter().GetValue()
				}
			}
		}
	}
	assert.Equal(t, map[string]float64{"true": 2, "false": 1}, counts)
}
