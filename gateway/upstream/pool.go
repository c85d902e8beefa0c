// Package upstream sends requests to the instances of a service: it follows
// the service through a go-kit sd.Instancer, keeps one go-kit endpoint per
// instance guarded by its own circuit breaker (sony/gobreaker), takes turns
// among the instances whose circuit admits the request, and retries a
// request without body once on another instance when it could not connect.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	kitendpoint "github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
)

// ErrNoInstance means no instance of the service is registered UP.
var ErrNoInstance = errors.New("no usable instance")

// Metrics are the upstream collectors, shared by every pool.
type Metrics struct {
	Errors  *prometheus.CounterVec // service, kind
	Retries *prometheus.CounterVec // service
	Breaker *prometheus.GaugeVec   // service, instance: 0 closed, 1 half-open, 2 open
}

// NewMetrics registers the upstream collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "gateway", Name: "upstream_errors_total",
			Help: "Upstream failures by service and kind (connect, timeout, unavailable: no instance, other; all-open: every circuit open, sent anyway).",
		}, []string{"service", "kind"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metrics.Namespace, Subsystem: "gateway", Name: "upstream_retries_total",
			Help: "Requests sent again to another instance after a connection failure.",
		}, []string{"service"}),
		Breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: metrics.Namespace, Subsystem: "gateway", Name: "breaker_state",
			Help: "Circuit breaker state per instance: 0 closed, 1 half-open, 2 open.",
		}, []string{"service", "instance"}),
	}
	reg.MustRegister(m.Errors, m.Retries, m.Breaker)
	return m
}

// NewTransport returns the transport shared by all pools: many idle
// connections per instance so that keep-alive survives bursts, a short
// connect timeout so a dead instance fails fast, and no transparent
// compression (bodies pass through as the client negotiated them).
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// Pool balances one service's requests over its instances. It is an
// http.RoundTripper: the request's URL host is replaced by the instance's.
type Pool struct {
	service    string
	endpointer *sd.DefaultEndpointer
	instancer  sd.Instancer
	metrics    *Metrics
	next       atomic.Uint64

	errConnect, errTimeout, errUnavailable, errOther, allOpen prometheus.Counter
	retries                                                   prometheus.Counter

	// spill takes turns among the instances that admit, for the turns
	// whose own instance refused.
	spill atomic.Uint64

	mu       sync.Mutex
	breakers map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]
}

// NewPool follows service through instancer; base sends the requests.
func NewPool(service string, instancer sd.Instancer, base http.RoundTripper, bs BreakerSettings, m *Metrics, logger log.Logger) *Pool {
	bs = bs.withDefaults()
	p := &Pool{
		service:   service,
		instancer: instancer,
		metrics:   m,
		breakers:  map[string]*gobreaker.TwoStepCircuitBreaker[struct{}]{},
	}
	p.errConnect = m.Errors.WithLabelValues(service, "connect")
	p.errTimeout = m.Errors.WithLabelValues(service, "timeout")
	p.errUnavailable = m.Errors.WithLabelValues(service, "unavailable")
	p.errOther = m.Errors.WithLabelValues(service, "other")
	p.allOpen = m.Errors.WithLabelValues(service, "all-open")
	p.retries = m.Retries.WithLabelValues(service)
	factory := func(instance string) (kitendpoint.Endpoint, io.Closer, error) {
		scheme, host, err := splitInstance(instance)
		if err != nil {
			return nil, nil, err
		}
		gauge := m.Breaker.WithLabelValues(service, host)
		gauge.Set(0)
		cb := gobreaker.NewTwoStepCircuitBreaker[struct{}](bs.gobreaker(service+"/"+host, func(_, to gobreaker.State) {
			gauge.Set(float64(to))
		}))
		p.mu.Lock()
		p.breakers[host] = cb
		p.mu.Unlock()
		ep := breakerMiddleware(cb, bs.HalfOpenRequests)(instanceEndpoint(base, scheme, host))
		closer := closerFunc(func() error {
			p.mu.Lock()
			if p.breakers[host] == cb {
				delete(p.breakers, host)
			}
			p.mu.Unlock()
			m.Breaker.DeleteLabelValues(service, host)
			return nil
		})
		return ep, closer, nil
	}
	p.endpointer = sd.NewEndpointer(instancer, factory, log.With(logger, "component", "upstream", logging.KeyPeer, service))
	return p
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

// splitInstance accepts "host:port" or "http(s)://host:port".
func splitInstance(instance string) (scheme, host string, err error) {
	scheme = "http"
	host = instance
	if i := strings.Index(instance, "://"); i >= 0 {
		scheme, host = instance[:i], strings.TrimRight(instance[i+3:], "/")
	}
	if scheme != "http" && scheme != "https" {
		return "", "", fmt.Errorf("instance %q: unsupported scheme", instance)
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		return "", "", fmt.Errorf("instance %q: %w", instance, err)
	}
	return scheme, host, nil
}

// instanceEndpoint is the go-kit endpoint sending a request to one instance.
func instanceEndpoint(base http.RoundTripper, scheme, host string) kitendpoint.Endpoint {
	return func(_ context.Context, request any) (any, error) {
		req := request.(*http.Request)
		req.URL.Scheme = scheme
		req.URL.Host = host
		resp, err := base.RoundTrip(req)
		if err != nil {
			if b, ok := req.Body.(*clientBody); ok {
				err = b.blame(err)
			}
			return nil, err
		}
		return resp, nil
	}
}

// Service returns the name of the service.
func (p *Pool) Service() string { return p.service }

// Close stops following the service.
func (p *Pool) Close() {
	p.endpointer.Close()
	p.instancer.Stop()
}

// States returns each known instance's circuit state.
func (p *Pool) States() map[string]gobreaker.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]gobreaker.State, len(p.breakers))
	for h, cb := range p.breakers {
		out[h] = cb.State()
	}
	return out
}

// Counts returns each known instance's circuit counts in the current window.
func (p *Pool) Counts() map[string]gobreaker.Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]gobreaker.Counts, len(p.breakers))
	for h, cb := range p.breakers {
		out[h] = cb.Counts()
	}
	return out
}

// Size returns the number of instances currently followed.
func (p *Pool) Size() int {
	eps, _ := p.endpointer.Endpoints()
	return len(eps)
}

// RoundTrip sends req to the next instance whose circuit admits it. Only a
// connection failure of an idempotent request (GET, HEAD, OPTIONS, PUT,
// DELETE) without body is retried, once, on another instance; nothing else
// is sent twice.
func (p *Pool) RoundTrip(req *http.Request) (*http.Response, error) {
	eps, _ := p.endpointer.Endpoints()
	n := len(eps)
	if n == 0 {
		p.errUnavailable.Inc()
		return nil, ErrNoInstance
	}
	// A failure to read the client's body must not count against the
	// instance: the body is watched so that its faults can be told apart.
	req.Body = watchBody(req.Body)
	start := int(p.next.Add(1) % uint64(n))
	// A turn whose instance refuses goes on to the others, beginning at
	// the one spread picks among those that admit, and then on round the
	// list from there.
	rot := 0
	retried := false
	var connErr error
	for i := 0; i < n; i++ {
		idx := start
		if i > 0 {
			idx = (start + 1 + (rot+i-1)%(n-1)) % n
		}
		resp, err := eps[idx](req.Context(), req)
		if err == nil {
			return resp.(*http.Response), nil
		}
		if err == errOpen {
			if i == 0 && n > 1 {
				rot = p.spread(eps, start)
			}
			continue
		}
		p.count(err)
		if IsConnect(err) {
			connErr = err
			if !retried && retryable(req) && req.Context().Err() == nil {
				retried = true
				p.retries.Inc()
				continue
			}
		}
		return nil, err
	}
	if connErr != nil {
		return nil, connErr
	}
	// Every circuit is open: when all instances fail alike the fault is
	// rarely theirs (a dependency of the service is down, and requests that
	// need none would still succeed), so the request goes to the next
	// instance anyway, as a load balancer's panic mode does, and counts for
	// nothing. A circuit still shields an instance whose peers are healthy.
	p.allOpen.Inc()
	resp, err := eps[start](context.WithValue(req.Context(), bypassKey{}, true), req)
	if err != nil {
		p.count(err)
		return nil, err
	}
	return resp.(*http.Response), nil
}

// spread picks the instance that takes a turn whose own instance (start)
// refused, and returns its place among the others (0 for the one after
// start). The instances that would admit the request take such turns in
// rotation, so an open circuit's share is spread evenly over them wherever
// the open circuits lie in the list, rather than handed to the next in the
// list, which would then carry twice its load. It reads the circuits twice
// (count, then pick) instead of keeping a list: a refusal is rare, and the
// request path allocates nothing. With none admitting it returns 0, and the
// request goes round them all to the panic mode.
func (p *Pool) spread(eps []kitendpoint.Endpoint, start int) int {
	n := len(eps)
	admitted := 0
	for j := range n {
		if j != start && admits(eps[j]) {
			admitted++
		}
	}
	if admitted == 0 {
		return 0
	}
	k := int(p.spill.Add(1) % uint64(admitted))
	for j := range n {
		if j == start || !admits(eps[j]) {
			continue
		}
		if k == 0 {
			return (j - start - 1 + n) % n
		}
		k--
	}
	return 0 // the circuits changed in between: any start will do
}

func (p *Pool) count(err error) {
	switch {
	case clientFault(err):
	case IsConnect(err):
		p.errConnect.Inc()
	case IsTimeout(err):
		p.errTimeout.Inc()
	default:
		p.errOther.Inc()
	}
}

// retryable admits idempotent requests without a body, which cannot have
// been consumed.
func retryable(req *http.Request) bool {
	return Idempotent(req.Method) && (req.Body == nil || req.Body == http.NoBody)
}

// Idempotent reports whether a request of method may be sent again after it
// reached an instance (RFC 9110, 9.2.2): GET, HEAD, OPTIONS, PUT, DELETE.
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// IsConnect reports whether err means the connection to the instance could
// not be made, so the request was never sent.
func IsConnect(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// IsTimeout reports whether err is an upstream deadline.
func IsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
