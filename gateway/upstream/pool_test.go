package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sony/gobreaker/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/runtest"
)

// instancer is an sd.Instancer whose instances a test sets.
type instancer struct {
	mu    sync.Mutex
	state sd.Event
	subs  map[chan<- sd.Event]bool
}

func newInstancer(instances ...string) *instancer {
	return &instancer{state: sd.Event{Instances: instances}, subs: map[chan<- sd.Event]bool{}}
}

func (in *instancer) Register(ch chan<- sd.Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.subs[ch] = true
	ch <- in.state
}

func (in *instancer) Deregister(ch chan<- sd.Event) {
	in.mu.Lock()
	defer in.mu.Unlock()
	delete(in.subs, ch)
}

func (in *instancer) Stop() {}

func (in *instancer) Set(instances ...string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.state = sd.Event{Instances: instances}
	for ch := range in.subs {
		ch <- in.state
	}
}

type backend struct {
	*httptest.Server
	hits   atomic.Int64
	status atomic.Int64
}

func newBackend(t *testing.T) *backend {
	b := &backend{}
	b.status.Store(http.StatusOK)
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		w.WriteHeader(int(b.status.Load()))
	}))
	t.Cleanup(b.Close)
	return b
}

func (b *backend) hostport() string { return strings.TrimPrefix(b.URL, "http://") }

func newPool(t *testing.T, in sd.Instancer, bs BreakerSettings) (*Pool, *Metrics) {
	t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	p := NewPool("patient", in, NewTransport(), bs, m, log.NewNopLogger())
	t.Cleanup(p.Close)
	return p, m
}

func waitSize(t *testing.T, p *Pool, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return p.Size() == n }, 2*time.Second, time.Millisecond)
}

func send(t *testing.T, p *Pool, method string) (int, error) {
	t.Helper()
	var body *strings.Reader
	req, err := http.NewRequest(method, "http://patient/api/v1/patients/1", nil)
	require.NoError(t, err)
	if method == http.MethodPost {
		body = strings.NewReader("{}")
		req.Body = http.NoBody
		req, _ = http.NewRequest(method, "http://patient/api/v1/patients", body)
	}
	resp, err := p.RoundTrip(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestRoundRobinAcrossInstances(t *testing.T) {
	a, b := newBackend(t), newBackend(t)
	p, _ := newPool(t, newInstancer(a.hostport(), "http://"+b.hostport()), BreakerSettings{})
	waitSize(t, p, 2)
	for range 10 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
	}
	assert.EqualValues(t, 5, a.hits.Load())
	assert.EqualValues(t, 5, b.hits.Load())
}

func TestFollowsInstancerChanges(t *testing.T) {
	a, b := newBackend(t), newBackend(t)
	in := newInstancer(a.hostport())
	p, m := newPool(t, in, BreakerSettings{})
	waitSize(t, p, 1)
	in.Set(a.hostport(), b.hostport())
	waitSize(t, p, 2)
	assert.Equal(t, 2, testutil.CollectAndCount(m.Breaker))
	in.Set(b.hostport())
	waitSize(t, p, 1)
	for range 4 {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 4, b.hits.Load())
	assert.Equal(t, 1, testutil.CollectAndCount(m.Breaker), "a removed instance's gauge goes too")
	in.Set()
	waitSize(t, p, 0)
	_, err := send(t, p, http.MethodGet)
	assert.ErrorIs(t, err, ErrNoInstance)
}

func TestBreakerOpensAndSkips(t *testing.T) {
	// An open timeout of an hour: the open phase cannot end while the test
	// looks at it, however slow the machine.
	good, bad := newBackend(t), newBackend(t)
	bad.status.Store(http.StatusServiceUnavailable)
	p, m := newPool(t, newInstancer(good.hostport(), bad.hostport()), BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Hour})
	waitSize(t, p, 2)

	for range 6 {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, bad.hits.Load(), "three 503s in a row open the circuit")
	assert.Equal(t, gobreaker.StateOpen, p.States()[bad.hostport()])
	assert.Equal(t, 2.0, testutil.ToFloat64(m.Breaker.WithLabelValues("patient", bad.hostport())))

	good.hits.Store(0)
	for range 10 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
	}
	assert.EqualValues(t, 10, good.hits.Load(), "the open instance is skipped")
	assert.EqualValues(t, 3, bad.hits.Load())

	// With every circuit open the request goes through anyway (panic
	// mode), counted for nothing.
	only, om := newPool(t, newInstancer(bad.hostport()), BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: time.Hour})
	waitSize(t, only, 1)
	for range 2 {
		code, err := send(t, only, http.MethodGet)
		require.NoError(t, err)
		assert.Equal(t, http.StatusServiceUnavailable, code, "the upstream's own answer passes through")
	}
	require.Equal(t, gobreaker.StateOpen, only.States()[bad.hostport()])
	code, err := send(t, only, http.MethodGet)
	require.NoError(t, err, "every circuit is open: sent anyway")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.EqualValues(t, 6, bad.hits.Load())
	assert.Equal(t, 1.0, testutil.ToFloat64(om.Errors.WithLabelValues("patient", "all-open")))
}

// awaitHalfOpen waits, with a generous deadline, for the open timeout to
// pass: the test waits on the state change, not on a guess of how long it
// takes on this machine.
func awaitHalfOpen(t *testing.T, p *Pool, host string) {
	t.Helper()
	require.Eventually(t, func() bool { return p.States()[host] == gobreaker.StateHalfOpen }, 10*time.Second, 5*time.Millisecond)
}

// The turns that fall on an instance whose circuit is open are spread over
// its peers, not all handed to the next in the list: losing one instance of
// three adds half its load to each of the two others.
func TestAnOpenCircuitsShareIsSpreadOverThePeers(t *testing.T) {
	a, b, c := newBackend(t), newBackend(t), newBackend(t)
	p, _ := newPool(t, newInstancer(a.hostport(), b.hostport(), c.hostport()),
		BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: time.Hour})
	waitSize(t, p, 3)
	a.status.Store(http.StatusServiceUnavailable)
	for p.States()[a.hostport()] != gobreaker.StateOpen {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	b.hits.Store(0)
	c.hits.Store(0)
	for range 300 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
	}
	assert.InDelta(t, 150, b.hits.Load(), 15, "the healthy instances share the load evenly")
	assert.InDelta(t, 150, c.hits.Load(), 15, "the healthy instances share the load evenly")
}

// Wherever the open circuits lie in the list, the instances that admit share
// their turns evenly: two neighbouring circuits of four open (a rack, a zone,
// two instances started together and sick together) leave the two healthy
// instances half the load each, not 58/42. Picking costs no allocation.
func TestNeighbouringOpenCircuitsShareIsSpreadEvenly(t *testing.T) {
	bs := []*backend{newBackend(t), newBackend(t), newBackend(t), newBackend(t)}
	// The endpointer orders instances by their address (go-kit sorts them).
	sort.Slice(bs, func(i, j int) bool { return bs[i].hostport() < bs[j].hostport() })
	p, _ := newPool(t, newInstancer(bs[0].hostport(), bs[1].hostport(), bs[2].hostport(), bs[3].hostport()),
		BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: time.Hour})
	waitSize(t, p, 4)
	bs[0].status.Store(http.StatusServiceUnavailable)
	bs[1].status.Store(http.StatusServiceUnavailable)
	for p.States()[bs[0].hostport()] != gobreaker.StateOpen || p.States()[bs[1].hostport()] != gobreaker.StateOpen {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	bs[2].hits.Store(0)
	bs[3].hits.Store(0)
	for range 600 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
	}
	assert.InDelta(t, 300, bs[2].hits.Load(), 30, "the healthy instances share the load evenly")
	assert.InDelta(t, 300, bs[3].hits.Load(), 30, "the healthy instances share the load evenly")

	eps, err := p.endpointer.Endpoints()
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(100, func() { p.spread(eps, 0) }), "picking the instance allocates nothing")
}

func TestHalfOpenProbeSuccessCloses(t *testing.T) {
	bad := newBackend(t)
	bad.status.Store(http.StatusServiceUnavailable)
	p, m := newPool(t, newInstancer(bad.hostport()), BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: 50 * time.Millisecond})
	waitSize(t, p, 1)
	gauge := m.Breaker.WithLabelValues("patient", bad.hostport())
	for range 2 {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	// The gauge moves on the transition itself, so it says "open" even if
	// the open timeout has already passed.
	assert.Equal(t, 2.0, testutil.ToFloat64(gauge), "two failures open the circuit")

	bad.status.Store(http.StatusOK)
	awaitHalfOpen(t, p, bad.hostport())
	code, err := send(t, p, http.MethodGet)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, gobreaker.StateClosed, p.States()[bad.hostport()], "the probe succeeded: closed")
	for range 3 {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 6, bad.hits.Load(), "traffic flows again after the probe")
}

func TestHalfOpenProbeFailureReopens(t *testing.T) {
	bad := newBackend(t)
	bad.status.Store(http.StatusBadGateway)
	p, m := newPool(t, newInstancer(bad.hostport()), BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: 30 * time.Millisecond})
	waitSize(t, p, 1)
	gauge := m.Breaker.WithLabelValues("patient", bad.hostport())
	for range 2 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
		assert.Equal(t, http.StatusBadGateway, code, "the upstream's own answer passes through")
	}
	assert.Equal(t, 2.0, testutil.ToFloat64(gauge))
	awaitHalfOpen(t, p, bad.hostport())
	assert.Equal(t, 1.0, testutil.ToFloat64(gauge))
	_, err := send(t, p, http.MethodGet)
	require.NoError(t, err)
	// Read from the gauge, set on the transition: asking the breaker its
	// state could already find the next open timeout passed.
	assert.Equal(t, 2.0, testutil.ToFloat64(gauge), "a failed probe opens it again")
	assert.EqualValues(t, 3, bad.hits.Load())
}

func TestFailureRatioOpens(t *testing.T) {
	b := newBackend(t)
	var n atomic.Int64
	b.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusGatewayTimeout)
		}
	})
	p, _ := newPool(t, newInstancer(b.hostport()), BreakerSettings{ConsecutiveFailures: 100, MinRequests: 10, FailureRatio: 0.5})
	waitSize(t, p, 1)
	for range 10 {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	assert.Equal(t, gobreaker.StateOpen, p.States()[b.hostport()])
}

func TestServerErrorsDoNotOpen(t *testing.T) {
	b := newBackend(t)
	b.status.Store(http.StatusInternalServerError)
	p, _ := newPool(t, newInstancer(b.hostport()), BreakerSettings{ConsecutiveFailures: 2})
	waitSize(t, p, 1)
	for range 5 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
		assert.Equal(t, http.StatusInternalServerError, code)
	}
	assert.Equal(t, gobreaker.StateClosed, p.States()[b.hostport()])
}

func TestRetryOnceOnConnectFailureForGetOnly(t *testing.T) {
	good := newBackend(t)
	dead := runtest.RefusedAddr(t)
	p, m := newPool(t, newInstancer(good.hostport(), dead), BreakerSettings{ConsecutiveFailures: 100})
	waitSize(t, p, 2)

	for range 4 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err, "a GET that cannot connect goes to the other instance")
		assert.Equal(t, http.StatusOK, code)
	}
	assert.EqualValues(t, 4, good.hits.Load())
	retries := testutil.ToFloat64(m.Retries.WithLabelValues("patient"))
	assert.Equal(t, 2.0, retries, "every other request met the dead instance first")

	failed := 0
	for range 4 {
		if _, err := send(t, p, http.MethodPost); err != nil {
			failed++
			assert.True(t, IsConnect(err))
		}
	}
	assert.Equal(t, 2, failed, "a POST is never sent twice")
	assert.Equal(t, retries, testutil.ToFloat64(m.Retries.WithLabelValues("patient")))
	assert.Equal(t, 4.0, testutil.ToFloat64(m.Errors.WithLabelValues("patient", "connect")))
}

func TestRetryOnConnectFailureForIdempotentMethodsWithoutBody(t *testing.T) {
	good := newBackend(t)
	p, m := newPool(t, newInstancer(good.hostport(), runtest.RefusedAddr(t)), BreakerSettings{ConsecutiveFailures: 100})
	waitSize(t, p, 2)
	for _, method := range []string{http.MethodDelete, http.MethodDelete, http.MethodPut, http.MethodPut} {
		code, err := send(t, p, method)
		require.NoError(t, err, "%s without body goes to the other instance", method)
		assert.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, 2.0, testutil.ToFloat64(m.Retries.WithLabelValues("patient")))

	failed := 0
	for range 2 {
		req, err := http.NewRequest(http.MethodPut, "http://patient/api/v1/patients/1", strings.NewReader("{}"))
		require.NoError(t, err)
		if _, err := p.RoundTrip(req); err != nil {
			failed++
		}
	}
	assert.Equal(t, 1, failed, "a PUT with a body is not sent twice")
}

// A POST or PATCH is not idempotent: even without a body, a connection
// failure is not tried again on another instance.
func TestBodilessPostIsNotRetried(t *testing.T) {
	good := newBackend(t)
	p, m := newPool(t, newInstancer(good.hostport(), runtest.RefusedAddr(t)), BreakerSettings{ConsecutiveFailures: 100})
	waitSize(t, p, 2)
	failed := 0
	for _, method := range []string{http.MethodPost, http.MethodPost, http.MethodPatch, http.MethodPatch} {
		req, err := http.NewRequest(method, "http://patient/api/v1/patients/1/archive", nil)
		require.NoError(t, err)
		resp, err := p.RoundTrip(req)
		if err != nil {
			failed++
			assert.True(t, IsConnect(err))
			continue
		}
		resp.Body.Close()
	}
	assert.Equal(t, 2, failed, "each request that met the dead instance failed")
	assert.Zero(t, testutil.ToFloat64(m.Retries.WithLabelValues("patient")))
	assert.EqualValues(t, 2, good.hits.Load())
}

func TestRetryAtMostOnce(t *testing.T) {
	p, _ := newPool(t, newInstancer(runtest.RefusedAddr(t), runtest.RefusedAddr(t), runtest.RefusedAddr(t)), BreakerSettings{ConsecutiveFailures: 100})
	waitSize(t, p, 3)
	_, err := send(t, p, http.MethodGet)
	require.Error(t, err)
	assert.True(t, IsConnect(err))
	states := p.States()
	failures := 0
	for h := range states {
		p.mu.Lock()
		failures += int(p.breakers[h].Counts().TotalFailures)
		p.mu.Unlock()
	}
	assert.Equal(t, 2, failures, "two attempts, not three")
}

func TestTimeoutIsNotRetried(t *testing.T) {
	var hits atomic.Int64
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		<-r.Context().Done()
	}))
	defer slow.Close()
	p, m := newPool(t, newInstancer(strings.TrimPrefix(slow.URL, "http://"), newBackend(t).hostport()), BreakerSettings{})
	waitSize(t, p, 2)
	for hits.Load() == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://patient/x", nil)
		resp, err := p.RoundTrip(req)
		cancel()
		if err != nil {
			assert.True(t, IsTimeout(err), "%v", err)
			assert.False(t, IsConnect(err))
			continue
		}
		resp.Body.Close()
	}
	assert.EqualValues(t, 1, hits.Load())
	assert.Zero(t, testutil.ToFloat64(m.Retries.WithLabelValues("patient")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.Errors.WithLabelValues("patient", "timeout")))
}

func TestBadInstancesAreIgnored(t *testing.T) {
	b := newBackend(t)
	p, _ := newPool(t, newInstancer("no-port", "ftp://x:1", b.hostport()), BreakerSettings{})
	waitSize(t, p, 1)
	_, err := send(t, p, http.MethodGet)
	require.NoError(t, err)
}

func TestErrorKinds(t *testing.T) {
	assert.True(t, IsTimeout(context.DeadlineExceeded))
	assert.False(t, IsTimeout(errors.New("x")))
	assert.False(t, IsConnect(context.DeadlineExceeded))
}

func TestKilledInstanceWithIdleConnections(t *testing.T) {
	a, b := newBackend(t), newBackend(t)
	p, _ := newPool(t, newInstancer(a.hostport(), b.hostport()), BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Hour})
	waitSize(t, p, 2)
	for range 10 {
		_, err := send(t, p, http.MethodGet)
		require.NoError(t, err)
	}
	require.Positive(t, b.hits.Load(), "b holds idle keep-alive connections")
	b.Close()
	for range 20 {
		code, err := send(t, p, http.MethodGet)
		require.NoError(t, err, "GETs keep succeeding")
		assert.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, gobreaker.StateOpen, p.States()[b.hostport()], "and the dead instance's circuit opened")
}

func TestLogLinesNameTheServicePeer(t *testing.T) {
	// A plain logger: the process logger would rename a second "service"
	// to "peer" itself, hiding a call site that wrote the wrong key.
	var logs logtest.Buffer
	p := NewPool("patient", newInstancer("ftp://127.0.0.1:1"), NewTransport(), BreakerSettings{},
		NewMetrics(prometheus.NewRegistry()), log.NewLogfmtLogger(&logs))
	t.Cleanup(p.Close)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "unsupported scheme") }, 2*time.Second, time.Millisecond)
	assert.Contains(t, logs.String(), "component=upstream peer=patient ")
	assert.NotContains(t, logs.String(), "service=")
}
