// Package metrics builds each service's Prometheus registry and the
// collectors every service shares: HTTP requests and latency by route
// template, and go-kit instrumenting counters for service methods.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	kitmetrics "github.com/go-kit/kit/metrics"
	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/medisync/medisync/shared/domainerr"
)

// Namespace prefixes every medisync metric.
const Namespace = "medisync"

// NewRegistry returns a registry with the Go runtime and process collectors.
// Each service owns one; nothing registers with the global default.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus text format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// HTTP holds the request collectors of one server.
type HTTP struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec
	// LongPoll times the requests a handler marks as blocking reads
	// (httpmw.LongPoll): they wait for a change by design, and in Duration
	// they would put the percentiles of every other request at their wait.
	LongPoll *prometheus.HistogramVec
	InFlight prometheus.Gauge
}

// NewHTTP registers the HTTP collectors with reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		LongPoll: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "long_poll_duration_seconds",
			Help:    "Latency of blocking reads (long polls), which wait for a change, by route template and method.",
			Buckets: []float64{.01, .1, 1, 5, 15, 30, 45, 60, 120, 300},
		}, []string{"route", "method"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
	}
	reg.MustRegister(h.Requests, h.Duration, h.LongPoll, h.InFlight)
	return h
}

// Method holds go-kit instrumenting metrics for one service's methods, for an
// instrumenting middleware that decorates the service interface.
type Method struct {
	Count   kitmetrics.Counter
	Latency kitmetrics.Histogram
}

// NewMethod registers method collectors for service (labels method, success).
func NewMethod(reg prometheus.Registerer, service string) Method {
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Subsystem: service, Name: "method_calls_total",
		Help: "Service method calls by method and outcome.",
	}, []string{"method", "success"})
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Subsystem: service, Name: "method_duration_seconds",
		Help:    "Service method latency by method and outcome.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"method", "success"})
	reg.MustRegister(cv, hv)
	return Method{Count: kitprometheus.NewCounter(cv), Latency: kitprometheus.NewHistogram(hv)}
}

// Observe records one call of method that began at begin and ended with err.
// Only faults count as failures: a domain outcome such as not found or a
// stale version is an expected answer (domainerr.Expected).
func (m Method) Observe(method string, begin time.Time, err error) {
	lvs := []string{"method", method, "success", strconv.FormatBool(domainerr.Expected(err))}
	m.Count.With(lvs...).Add(1)
	m.Latency.With(lvs...).Observe(time.Since(begin).Seconds())
}

// MethodLabel bounds an HTTP method for use as a label: the methods of RFC
// 9110 and PATCH keep their name, anything a client invents is "OTHER", so
// that no client can create new series (and grow memory) at will.
func MethodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}
