package service

import (
	"context"
	"errors"
	"strconv"
	"time"

	kitmetrics "github.com/go-kit/kit/metrics"
	kitprometheus "github.com/go-kit/kit/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/metrics"
)

// Metrics are the discovery server's own collectors.
type Metrics struct {
	Method        metrics.Method
	Registrations kitmetrics.Counter // label: outcome (created|replaced)
	// HeartbeatsRenewed and HeartbeatsUnknown are bound ahead: heartbeats
	// are the hottest path, and binding labels per call allocates.
	HeartbeatsRenewed prometheus.Counter
	HeartbeatsUnknown prometheus.Counter
	Deregistrations   kitmetrics.Counter
	StatusChanges     kitmetrics.Counter // label: status
	// Waits times the blocking queries (label method): they wait for a
	// change by design, so they stay out of the method latency histogram,
	// whose percentiles would otherwise be their wait.
	Waits kitmetrics.Histogram
}

// NewMetrics registers the discovery collectors with reg, including the
// collectors read from the registry at scrape time: instances by service
// and status, evictions by service, and the registry index.
func NewMetrics(reg prometheus.Registerer, r *registry.Registry) *Metrics {
	counter := func(name, help string, labels ...string) kitmetrics.Counter {
		cv := prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "discovery", Name: name, Help: help,
		}, labels)
		reg.MustRegister(cv)
		return kitprometheus.NewCounter(cv)
	}
	heartbeats := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metrics.Namespace, Subsystem: "discovery", Name: "heartbeats_total",
		Help: "Heartbeats by outcome (renewed, or unknown instance).",
	}, []string{"outcome"})
	reg.MustRegister(heartbeats)
	waits := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metrics.Namespace, Subsystem: "discovery", Name: "blocking_query_duration_seconds",
		Help:    "Blocking queries by method (Service, Registry), from arrival to answer: mostly the wait for a change.",
		Buckets: []float64{.01, .1, 1, 5, 15, 30, 45, 60, 120, 300},
	}, []string{"method"})
	reg.MustRegister(waits)
	m := &Metrics{
		Waits:             kitprometheus.NewHistogram(waits),
		Method:            metrics.NewMethod(reg, "discovery"),
		Registrations:     counter("registrations_total", "Registrations by outcome: created, or replaced (an unchanged repeat, which only renews the lease, counts as replaced).", "outcome"),
		HeartbeatsRenewed: heartbeats.WithLabelValues("renewed"),
		HeartbeatsUnknown: heartbeats.WithLabelValues("unknown"),
		Deregistrations:   counter("deregistrations_total", "Instances deregistered by their owner."),
		StatusChanges:     counter("status_changes_total", "Status change requests by requested status.", "status"),
	}
	reg.MustRegister(&registryCollector{r: r})
	return m
}

var (
	instancesDesc = prometheus.NewDesc(metrics.Namespace+"_discovery_instances",
		"Registered instances by service and status.", []string{"service", "status"}, nil)
	// evictionsDesc is read from the registry, not counted here, so that its
	// series end with the service the registry forgets: a counter vector
	// would keep one for every name ever evicted.
	evictionsDesc = prometheus.NewDesc(metrics.Namespace+"_discovery_evictions_total",
		"Instances evicted because their lease lapsed, by service, for the services the registry holds.", []string{"service"}, nil)
	indexDesc = prometheus.NewDesc(metrics.Namespace+"_discovery_registry_index",
		"The registry index, which moves on every visible change.", nil, nil)
	blockedDesc = prometheus.NewDesc(metrics.Namespace+"_discovery_blocked_readers",
		"Blocking queries parked on a change now.", nil, nil)
	turnedAwayDesc = prometheus.NewDesc(metrics.Namespace+"_discovery_blocking_queries_turned_away_total",
		"Blocking queries answered at once because -max-blocked-readers were parked.", nil, nil)
)

// registryCollector reads the registry when scraped, so the gauges can never
// drift from what the registry holds.
type registryCollector struct{ r *registry.Registry }

func (c *registryCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- instancesDesc
	ch <- evictionsDesc
	ch <- indexDesc
	ch <- blockedDesc
	ch <- turnedAwayDesc
}

func (c *registryCollector) Collect(ch chan<- prometheus.Metric) {
	for _, sc := range c.r.Counts() {
		ch <- prometheus.MustNewConstMetric(instancesDesc, prometheus.GaugeValue, float64(sc.Count), sc.Service, string(sc.Status))
	}
	for name, n := range c.r.Evictions() {
		ch <- prometheus.MustNewConstMetric(evictionsDesc, prometheus.CounterValue, float64(n), name)
	}
	ch <- prometheus.MustNewConstMetric(indexDesc, prometheus.GaugeValue, float64(c.r.Index()))
	ch <- prometheus.MustNewConstMetric(blockedDesc, prometheus.GaugeValue, float64(c.r.Blocked()))
	ch <- prometheus.MustNewConstMetric(turnedAwayDesc, prometheus.CounterValue, float64(c.r.TurnedAway()))
}

// InstrumentingMiddleware counts and times every method, and counts
// registrations, heartbeats, deregistrations and status changes (evictions
// are read from the registry).
func InstrumentingMiddleware(m *Metrics) func(Service) Service {
	return func(next Service) Service { return &instrumentingService{next: next, m: m} }
}

type instrumentingService struct {
	next Service
	m    *Metrics
}

func (s *instrumentingService) observe(method string, begin time.Time, err error) {
	s.m.Method.Observe(method, begin, err)
}

// observeQuery records a read: a blocking one is counted with the calls but
// timed in Waits.
func (s *instrumentingService) observeQuery(method string, q Query, begin time.Time, err error) {
	if q.Wait <= 0 {
		s.observe(method, begin, err)
		return
	}
	s.m.Method.Count.With("method", method, "success", strconv.FormatBool(domainerr.Expected(err))).Add(1)
	s.m.Waits.With("method", method).Observe(time.Since(begin).Seconds())
}

func (s *instrumentingService) Register(ctx context.Context, r registry.Registration) (inst registry.Instance, created bool, err error) {
	defer func(begin time.Time) {
		s.observe("Register", begin, err)
		if err == nil {
			outcome := "replaced"
			if created {
				outcome = "created"
			}
			s.m.Registrations.With("outcome", outcome).Add(1)
		}
	}(time.Now())
	return s.next.Register(ctx, r)
}

func (s *instrumentingService) Heartbeat(ctx context.Context, service, id string) (l registry.Lease, err error) {
	defer func(begin time.Time) {
		s.observe("Heartbeat", begin, err)
		switch {
		case err == nil:
			s.m.HeartbeatsRenewed.Inc()
		case errors.Is(err, registry.ErrNotFound):
			s.m.HeartbeatsUnknown.Inc()
		}
	}(time.Now())
	return s.next.Heartbeat(ctx, service, id)
}

func (s *instrumentingService) SetStatus(ctx context.Context, service, id string, status registry.Status) (inst registry.Instance, err error) {
	defer func(begin time.Time) {
		s.observe("SetStatus", begin, err)
		if err == nil {
			s.m.StatusChanges.With("status", string(status)).Add(1)
		}
	}(time.Now())
	return s.next.SetStatus(ctx, service, id, status)
}

func (s *instrumentingService) Update(ctx context.Context, service, id string, renew bool, f UpdateFunc) (inst registry.Instance, created bool, err error) {
	defer func(begin time.Time) {
		s.observe("Update", begin, err)
		if err == nil && created {
			s.m.Registrations.With("outcome", "created").Add(1)
		}
	}(time.Now())
	return s.next.Update(ctx, service, id, renew, f)
}

func (s *instrumentingService) Deregister(ctx context.Context, service, id string) (err error) {
	defer func(begin time.Time) {
		s.observe("Deregister", begin, err)
		if err == nil {
			s.m.Deregistrations.Add(1)
		}
	}(time.Now())
	return s.next.Deregister(ctx, service, id)
}

func (s *instrumentingService) Service(ctx context.Context, name string, q Query) (v registry.ServiceView, err error) {
	defer func(begin time.Time) { s.observeQuery("Service", q, begin, err) }(time.Now())
	return s.next.Service(ctx, name, q)
}

func (s *instrumentingService) Registry(ctx context.Context, q Query) (v registry.View, err error) {
	defer func(begin time.Time) { s.observeQuery("Registry", q, begin, err) }(time.Now())
	return s.next.Registry(ctx, q)
}

func (s *instrumentingService) Evict(ctx context.Context) (out []registry.Instance, err error) {
	defer func(begin time.Time) { s.observe("Evict", begin, err) }(time.Now())
	return s.next.Evict(ctx)
}

func (s *instrumentingService) Instance(ctx context.Context, service, id string) (inst registry.Instance, err error) {
	defer func(begin time.Time) { s.observe("Instance", begin, err) }(time.Now())
	return s.next.Instance(ctx, service, id)
}

func (s *instrumentingService) Version(ctx context.Context) (v registry.Version, err error) {
	defer func(begin time.Time) { s.observe("Version", begin, err) }(time.Now())
	return s.next.Version(ctx)
}

func (s *instrumentingService) Recent(ctx context.Context) (d registry.Delta, err error) {
	defer func(begin time.Time) { s.observe("Recent", begin, err) }(time.Now())
	return s.next.Recent(ctx)
}
