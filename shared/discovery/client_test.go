package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/peerhttp"
)

// fake is a minimal stand-in for a discovery server, recording what it is
// asked; the full server is exercised by the discovery module's tests.
type fake struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	calls []string
	auth  []string
	known map[string]bool
	index uint64
	// down makes every request fail with 503.
	down atomic.Bool
	// forget makes the next heartbeat answer 404, as a restarted server would.
	forget atomic.Bool
}

func newFake(t *testing.T) *fake {
	f := &fake{t: t, known: map[string]bool{}, index: 1}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		call += "?" + r.URL.RawQuery
	}
	f.calls = append(f.calls, call)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	if f.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/registry/"), "/")
	switch {
	case r.Method == http.MethodGet && len(parts) == 1:
		var insts []Instance
		for k := range f.known {
			if strings.HasPrefix(k, parts[0]+"/") {
				insts = append(insts, Instance{ID: strings.TrimPrefix(k, parts[0]+"/"), Address: "127.0.0.1", Port: 1, Status: StatusUp})
			}
		}
		_ = json.NewEncoder(w).Encode(ServiceView{Service: parts[0], Index: f.index, Instances: insts})
	case r.Method == http.MethodPut && len(parts) == 2:
		var body registerBody
		require.NoError(f.t, json.NewDecoder(r.Body).Decode(&body))
		f.known[parts[0]+"/"+parts[1]] = true
		f.index++
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodPut && len(parts) == 3 && parts[2] == "heartbeat":
		if f.forget.CompareAndSwap(true, false) {
			delete(f.known, parts[0]+"/"+parts[1])
		}
		if !f.known[parts[0]+"/"+parts[1]] {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"detail":"instance is not registered"}`))
			return
		}
	case r.Method == http.MethodDelete && len(parts) == 2:
		if !f.known[parts[0]+"/"+parts[1]] {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		delete(f.known, parts[0]+"/"+parts[1])
		f.index++
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

func (f *fake) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

func (f *fake) has(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.known[key]
}

// eventually waits (at most a generous 10 s) for cond; a safety net, not a
// speed target.
func eventually(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func testClient(urls ...string) *Client {
	return NewClient(urls, "tok", nil, nil, WithRetry(5*time.Millisecond, 20*time.Millisecond))
}

func TestRegistrarServesEveryServerIndependently(t *testing.T) {
	a, b := newFake(t), newFake(t)
	b.down.Store(true) // b is unreachable at first
	c := testClient(a.srv.URL, b.srv.URL+"/")
	reg := NewRegistrar(c, Registration{Service: "auth", InstanceID: "a1", Address: "127.0.0.1", Port: 8081,
		TTL: 5 * time.Second, HeartbeatEvery: 5 * time.Millisecond}, nil)
	reg.Start(context.Background())

	eventually(t, func() bool { return a.count("PUT /api/v1/registry/auth/a1/heartbeat") >= 2 }, "no heartbeats to a")
	assert.False(t, b.has("auth/a1"))
	b.down.Store(false)
	eventually(t, func() bool { return b.has("auth/a1") }, "b never got the registration")

	// A server that forgot us answers 404 to the heartbeat: we register again.
	before := a.count("PUT /api/v1/registry/auth/a1?") + a.count("PUT /api/v1/registry/auth/a1")
	a.forget.Store(true)
	eventually(t, func() bool {
		return a.count("PUT /api/v1/registry/auth/a1") > before && a.has("auth/a1")
	}, "no registration after a 404")

	require.NoError(t, reg.Stop(context.Background()))
	assert.False(t, a.has("auth/a1"))
	assert.False(t, b.has("auth/a1"))
	for _, h := range append(a.auth, b.auth...) {
		assert.Equal(t, "Bearer tok", h)
	}
	// Nothing more after Stop.
	n := a.count("PUT")
	time.Sleep(20 * time.Millisecond)
	assert.Equal(t, n, a.count("PUT"))
}

func TestStopFailsOnlyWhenNoServerAnswers(t *testing.T) {
	a := newFake(t)
	c := testClient(a.srv.URL)
	reg := NewRegistrar(c, Registration{Service: "auth", InstanceID: "a1", Address: "h", Port: 1}, nil)
	a.down.Store(true)
	assert.Error(t, reg.Stop(context.Background()))
	a.down.Store(false)
	assert.NoError(t, reg.Stop(context.Background()), "an unknown instance is already deregistered")
}

func TestReadsFailOverAndStickToTheServerThatAnswered(t *testing.T) {
	a, b := newFake(t), newFake(t)
	a.down.Store(true)
	c := testClient(a.srv.URL, b.srv.URL)
	v, err := c.Lookup(context.Background(), "auth")
	require.NoError(t, err)
	assert.Equal(t, b.srv.URL, v.Source)
	_, err = c.Lookup(context.Background(), "auth")
	require.NoError(t, err)
	assert.Equal(t, 1, a.count("GET"), "the answering server is preferred afterwards")

	b.down.Store(true)
	_, err = c.Instances(context.Background(), "auth")
	assert.Error(t, err, "no server answers")

	_, err = NewClient(nil, "", nil, nil).Lookup(context.Background(), "auth")
	assert.ErrorIs(t, err, ErrNoServers)
}

func TestWatchSendsIndexAndWait(t *testing.T) {
	a := newFake(t)
	c := testClient(a.srv.URL)
	_, err := c.Watch(context.Background(), "auth", 7, 2*time.Second)
	require.NoError(t, err)
	assert.Equal(t, 1, a.count("GET /api/v1/registry/auth?index=7&wait=2s"))
}

func TestInstancerRegisterSendsCurrentState(t *testing.T) {
	a := newFake(t)
	a.known["auth/a1"] = true
	c := testClient(a.srv.URL)
	in := c.Instancer("auth")
	defer in.Stop()
	ch := make(chan sd.Event, 1)
	in.Register(ch)
	ev := <-ch
	require.NoError(t, ev.Err)
	assert.Equal(t, []string{"127.0.0.1:1"}, ev.Instances)
	in.Deregister(ch)
	in.Stop()
	in.Stop() // twice is harmless
}

func TestServiceHosts(t *testing.T) {
	for host, want := range map[string]bool{
		"auth": true, "doctor-2": true, "localhost": false, "auth.internal": false,
		"127.0.0.1": false, "Auth": false, "": false, "-x": false,
	} {
		assert.Equal(t, want, isServiceHost(host, ""), host)
	}
	assert.False(t, isServiceHost("auth", "8081"), "a host with a port is dialled as is")
}

func TestJitterStaysWithinTenPercent(t *testing.T) {
	for i := 0; i < 1000; i++ {
		d := jitter(time.Second)
		assert.GreaterOrEqual(t, d, 900*time.Millisecond)
		assert.Less(t, d, 1100*time.Millisecond)
	}
	assert.Equal(t, time.Duration(0), jitter(0))
}

func TestRegistrationDefaults(t *testing.T) {
	r := Registration{}
	assert.Equal(t, DefaultTTL, r.ttl())
	assert.Equal(t, DefaultTTL/3, r.interval())
	r.TTL = 9 * time.Second
	assert.Equal(t, 3*time.Second, r.interval())
	r.HeartbeatEvery = time.Second
	assert.Equal(t, time.Second, r.interval())
	assert.Equal(t, "[::1]:80", Instance{Address: "::1", Port: 80}.HostPort())
}

func TestReadsMovePastAServerThatHangs(t *testing.T) {
	release := make(chan struct{})
	var hits atomic.Int64
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hung.Close)
	t.Cleanup(func() { close(release) })
	b := newFake(t)
	c := testClient(hung.URL, b.srv.URL)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := c.Lookup(ctx, "auth")
	cancel()
	require.Error(t, err, "the hung server used up the caller's deadline")

	v, err := c.Lookup(context.Background(), "auth")
	require.NoError(t, err)
	assert.Equal(t, b.srv.URL, v.Source)
	assert.EqualValues(t, 1, hits.Load(), "the next read did not wait on the hung server again")
}

func TestInstancesOutliveADiscoveryOutage(t *testing.T) {
	a := newFake(t)
	a.known["auth/a1"] = true
	c := testClient(a.srv.URL)
	defer c.Close()
	hc := &http.Client{Transport: c.Transport(nil)}
	_, err := hc.Get("http://auth/.well-known/jwks.json")
	require.Error(t, err, "nothing listens on the instance's port")
	w, err := c.watcher("auth")
	require.NoError(t, err)
	require.Len(t, w.Instances(), 1)

	a.down.Store(true)
	eventually(t, func() bool { return w.State().Err != nil }, "the outage was not noticed")
	assert.Len(t, w.Instances(), 1, "the last instances seen stay")
	_, err = hc.Get("http://auth/.well-known/jwks.json")
	var op *net.OpError
	require.ErrorAs(t, err, &op, "the known instance is dialled: %v", err)
	assert.Equal(t, "dial", op.Op)
	assert.NotErrorIs(t, err, ErrNoInstance)
}

// A discovery server that accepts connections and never answers (hung),
// met by a service's first call to a peer (http://doctor/...): the call ends
// with its own deadline (the peer timeout, the request's), not after the
// discovery client's 5 s, and so does a readiness probe's call coming while
// discovery has still not answered.
func TestFirstCallThroughAHungDiscoveryKeepsToTheCallersDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() }) // held open, never answered
		}
	}()
	// As shared/app builds it: the default client, the resolving transport.
	c := NewClient([]string{"http://" + ln.Addr().String()}, "", nil, nil)
	t.Cleanup(c.Close)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: c.Transport(nil)}
	doctors := peerhttp.New(hc, "doctor", peerhttp.Options{BaseURL: "http://doctor", Timeout: 500 * time.Millisecond})

	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // the request's deadline
	defer cancel()
	start := time.Now()
	err = doctors.GetJSON(ctx, "/api/v1/doctors/x", &struct{}{})
	took := time.Since(start)
	require.Error(t, err, "a call through a hung discovery succeeded")
	assert.Less(t, took, 1500*time.Millisecond, "with a 500ms peer timeout and a 1s request deadline: %v", err)
	assert.True(t, peerhttp.Down(err), "the peer cannot be reached: a fault, %v", err)

	probe, cancelProbe := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelProbe()
	req, err := http.NewRequestWithContext(probe, http.MethodGet, "http://doctor/health/ready", nil)
	require.NoError(t, err)
	start = time.Now()
	_, err = hc.Do(req)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second, "the probe waited past its bound")
}

// roundTripFunc adapts a function to http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTransportTriesAnotherInstanceWhenTheFirstCannotBeDialled(t *testing.T) {
	c := testClient("http://127.0.0.1:1")
	done := make(chan struct{})
	close(done)
	c.watchers["auth"] = &Instancer{
		instances: []Instance{{Address: "127.0.0.1", Port: 1, Status: StatusUp}, {Address: "127.0.0.1", Port: 2, Status: StatusUp}},
		cancel:    func() {}, done: done, answered: done,
	}
	var rt *resolvingTransport
	var hosts []string
	rt = c.Transport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		hosts = append(hosts, r.URL.Host)
		if len(hosts) == 1 {
			// Another request takes its turn while this one fails to dial.
			rt.next.Add(1)
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
		}
		return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: r}, nil
	})).(*resolvingTransport)
	req, err := http.NewRequest(http.MethodGet, "http://auth/.well-known/jwks.json", nil)
	require.NoError(t, err)
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"127.0.0.1:1", "127.0.0.1:2"}, hosts)
}

func TestInstancerSendsAnIndexOnlyToTheServerThatGaveIt(t *testing.T) {
	a, b := newFake(t), newFake(t)
	a.index, b.index = 5, 100
	c := testClient(a.srv.URL, b.srv.URL)
	in := c.Instancer("auth")
	defer in.Stop()
	eventually(t, func() bool { return a.count("GET /api/v1/registry/auth?index=5") > 0 }, "no blocking query to a")

	// Another read of the same client moves on to b. A read of a that was
	// under way when the preference moved stores a back, so keep moving it
	// until the instancer's next read has gone to b.
	eventually(t, func() bool {
		c.preferred.Store(1)
		return b.count("GET /api/v1/registry/auth?index=100") > 0
	}, "no blocking query to b")
	assert.Zero(t, b.count("GET /api/v1/registry/auth?index=5"), "a's index means nothing to b")
}
