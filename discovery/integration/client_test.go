// Package integration runs the shared discovery client against real
// discovery servers listening on 127.0.0.1.
package integration

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	kitendpoint "github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/discovery"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/logging/logtest"
)

const token = "integration-token"

// generous bounds every wait for something that should happen promptly; it
// is a safety net, not a speed target.
const generous = 10 * time.Second

// server is a discovery server on 127.0.0.1 that can be stopped and started
// again, empty, on the same port.
type server struct {
	t     *testing.T
	addr  string
	clock *clocktest.Clock
	app   *wire.Server
	http  *http.Server
	stop  context.CancelFunc
	done  chan struct{}
}

func startServer(t *testing.T, addr string) *server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	s := &server{t: t, addr: ln.Addr().String(), clock: clocktest.New(time.Now().UTC())}
	cfg := wire.DefaultConfig()
	cfg.Clock, cfg.ReapEvery = s.clock, 5*time.Millisecond
	s.app, err = wire.New(cfg, []string{"-discovery-token", token}, io.Discard)
	require.NoError(t, err)
	s.http = &http.Server{Handler: s.app.Handler}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.done = make(chan struct{})
	go func() { s.app.Reap(ctx); close(s.done) }()
	go func() { _ = s.http.Serve(ln) }()
	t.Cleanup(s.Stop)
	return s
}

func (s *server) URL() string { return "http://" + s.addr }

// Stop ends the server as a crash would: no state survives.
func (s *server) Stop() {
	s.stop()
	<-s.done
	_ = s.app.BeforeDrain(context.Background())
	_ = s.http.Close()
}

func newClient(urls ...string) *discovery.Client {
	return discovery.NewClient(urls, token, nil, log.NewNopLogger(),
		discovery.WithRetry(10*time.Millisecond, 100*time.Millisecond))
}

// backend is an HTTP server standing for a service instance.
func backend(t *testing.T, body string) (*httptest.Server, int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, body+" "+r.URL.Path)
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return srv, p
}

// waitFor follows service with blocking queries until cond holds.
func waitFor(t *testing.T, c *discovery.Client, service string, cond func([]discovery.Instance) bool) []discovery.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), generous)
	defer cancel()
	v, err := c.Lookup(ctx, service)
	for {
		if err == nil && cond(v.Instances) {
			return v.Instances
		}
		if ctx.Err() != nil {
			t.Fatalf("condition on %s not met; last view %+v, err %v", service, v, err)
		}
		if err != nil {
			time.Sleep(10 * time.Millisecond)
			v, err = c.Lookup(ctx, service)
			continue
		}
		// Short waits: lease renewals move no index, so only the wait ends them.
		v, err = c.Watch(ctx, service, v.Index, 50*time.Millisecond)
	}
}

func ids(in []discovery.Instance) []string {
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = x.ID
	}
	return out
}

func has(id string) func([]discovery.Instance) bool {
	return func(in []discovery.Instance) bool { return slices.Contains(ids(in), id) }
}

func hasNot(id string) func([]discovery.Instance) bool {
	return func(in []discovery.Instance) bool { return !slices.Contains(ids(in), id) }
}

func registration(id string, port int) discovery.Registration {
	return discovery.Registration{
		Service: "auth", InstanceID: id, Address: "127.0.0.1", Port: port, TTL: 5 * time.Second,
		Metadata: map[string]string{"version": "test"},
	}
}

func TestRegisteredInstanceIsVisibleAndGracefulStopRemovesItAtOnce(t *testing.T) {
	srv := startServer(t, "")
	c := newClient(srv.URL())
	reg := discovery.NewRegistrar(c, registration("auth-1", 9001), nil)
	reg.Start(context.Background())

	insts := waitFor(t, c, "auth", has("auth-1"))
	require.Len(t, insts, 1)
	assert.Equal(t, "127.0.0.1:9001", insts[0].HostPort())
	assert.Equal(t, discovery.StatusUp, insts[0].Status)
	assert.Equal(t, 5, insts[0].TTLSeconds)
	assert.Equal(t, "test", insts[0].Metadata["version"])

	up, err := c.Instances(context.Background(), "auth")
	require.NoError(t, err)
	assert.Len(t, up, 1)

	require.NoError(t, reg.Stop(context.Background()))
	// Gone at once: a plain read right after Stop, no waiting.
	v, err := c.Lookup(context.Background(), "auth")
	require.NoError(t, err)
	assert.Empty(t, v.Instances)
}

func TestKilledInstanceIsEvictedAfterItsLease(t *testing.T) {
	srv := startServer(t, "")
	c := newClient(srv.URL())
	r := registration("auth-1", 9001)
	r.HeartbeatEvery = time.Hour // only the registration; no heartbeat in flight when killed
	reg := discovery.NewRegistrar(c, r, nil)
	ctx, kill := context.WithCancel(context.Background())
	reg.Start(ctx)
	waitFor(t, c, "auth", has("auth-1"))

	kill() // the process dies: no deregistration
	srv.clock.Advance(4 * time.Second)
	v, err := c.Lookup(context.Background(), "auth")
	require.NoError(t, err)
	assert.Len(t, v.Instances, 1, "still within its lease")

	srv.clock.Advance(2 * time.Second) // past the 5 s lease
	waitFor(t, c, "auth", hasNot("auth-1"))
}

func TestHeartbeatsKeepTheLeaseAlive(t *testing.T) {
	srv := startServer(t, "")
	c := newClient(srv.URL())
	r := registration("auth-1", 9001)
	r.HeartbeatEvery = 5 * time.Millisecond
	reg := discovery.NewRegistrar(c, r, nil)
	reg.Start(context.Background())
	defer func() { _ = reg.Stop(context.Background()) }()
	first := waitFor(t, c, "auth", has("auth-1"))[0]

	srv.clock.Advance(4 * time.Second)
	// A later heartbeat renews the lease from the new time.
	waitFor(t, c, "auth", func(in []discovery.Instance) bool {
		return len(in) == 1 && in[0].LeaseExpiresAt.After(first.LeaseExpiresAt)
	})
	srv.clock.Advance(4 * time.Second) // 8 s after registering, beyond the first lease
	in := waitFor(t, c, "auth", func(in []discovery.Instance) bool {
		return len(in) == 1 && in[0].LeaseExpiresAt.After(first.LeaseExpiresAt.Add(3*time.Second))
	})
	assert.Equal(t, "auth-1", in[0].ID)
}

func TestRestartedServerIsFilledAgain(t *testing.T) {
	srv := startServer(t, "")
	c := newClient(srv.URL())
	r := registration("auth-1", 9001)
	r.HeartbeatEvery = 20 * time.Millisecond
	reg := discovery.NewRegistrar(c, r, nil)
	reg.Start(context.Background())
	defer func() { _ = reg.Stop(context.Background()) }()
	waitFor(t, c, "auth", has("auth-1"))

	srv.Stop()
	restarted := startServer(t, srv.addr) // same URL, empty registry
	v, err := c.Lookup(context.Background(), "auth")
	if err == nil && len(v.Instances) == 1 {
		t.Log("instance was back before the first look")
	}
	waitFor(t, c, "auth", has("auth-1"))
	assert.Equal(t, 1, restarted.app.Registry.Size())
}

// A restarted server answers a reader's stale index at once, with a
// registry that is empty until the instances' next heartbeats: the
// Instancer keeps the live instance meanwhile, or the gateway's pool would
// answer 503 for the whole service until then.
func TestRestartedServerDoesNotEmptyTheInstancersView(t *testing.T) {
	srv := startServer(t, "")
	svcClient := newClient(srv.URL())
	r := registration("auth-1", 9001)
	r.HeartbeatEvery = 2 * time.Second // production: TTL/3 = 10 s
	reg := discovery.NewRegistrar(svcClient, r, nil)
	reg.Start(context.Background())
	defer func() { _ = reg.Stop(context.Background()) }()
	waitFor(t, svcClient, "auth", has("auth-1"))

	gw := newClient(srv.URL()) // the gateway's own client
	in := gw.Instancer("auth")
	defer in.Stop()
	events := make(chan sd.Event, 64)
	in.Register(events)
	defer in.Deregister(events)
	<-events // current state

	srv.Stop()
	startServer(t, srv.addr) // same URL, empty registry

	deadline := time.After(1500 * time.Millisecond) // before the instance's next heartbeat
	for {
		select {
		case ev := <-events:
			if ev.Err == nil && len(ev.Instances) == 0 {
				t.Fatalf("after the registry restarted, the reader was told the live instance is gone: event %+v", ev)
			}
		case <-deadline:
			assert.Equal(t, []string{"127.0.0.1:9001"}, in.State().Instances)
			return
		}
	}
}

// What a restarted server does not list once it has been up for an
// instance's whole TTL is gone: a dead instance carried over the restart
// leaves then, while one that registered again stays.
func TestInstanceDeadAcrossARestartLeavesAfterItsTTL(t *testing.T) {
	srv := startServer(t, "")
	svcClient := newClient(srv.URL())
	live := registration("auth-1", 9001)
	live.TTL, live.HeartbeatEvery = 30*time.Second, 50*time.Millisecond
	reg := discovery.NewRegistrar(svcClient, live, nil)
	reg.Start(context.Background())
	defer func() { _ = reg.Stop(context.Background()) }()
	require.NoError(t, svcClient.Register(context.Background(), registration("auth-2", 9002))) // TTL 5 s, no heartbeat
	waitFor(t, svcClient, "auth", func(in []discovery.Instance) bool { return len(in) == 2 })

	gw := discovery.NewClient([]string{srv.URL()}, token, nil, log.NewNopLogger(),
		discovery.WithRetry(10*time.Millisecond, 100*time.Millisecond), discovery.WithWatchWait(100*time.Millisecond))
	in := gw.Instancer("auth")
	defer in.Stop()
	both := []string{"127.0.0.1:9001", "127.0.0.1:9002"}
	require.Equal(t, both, in.State().Instances)
	var emptied atomic.Bool
	events := make(chan sd.Event, 64)
	in.Register(events)
	defer in.Deregister(events)
	go func() {
		for ev := range events {
			if ev.Err == nil && len(ev.Instances) == 0 {
				emptied.Store(true)
			}
		}
	}()

	srv.Stop()
	restarted := startServer(t, srv.addr)
	waitFor(t, svcClient, "auth", has("auth-1"))
	time.Sleep(300 * time.Millisecond) // a few of the reader's queries
	assert.Equal(t, both, in.State().Instances, "the dead one may yet register again")

	restarted.clock.Advance(5 * time.Second) // auth-2's TTL
	deadline := time.After(generous)
	for !slices.Equal(in.State().Instances, []string{"127.0.0.1:9001"}) {
		select {
		case <-in.Changed():
		case <-deadline:
			t.Fatalf("the dead instance stayed: %+v", in.State())
		}
	}
	assert.False(t, emptied.Load(), "the reader never saw the service empty")
}

func TestRegistersWithEveryServerAndReadsFromAny(t *testing.T) {
	a, b := startServer(t, ""), startServer(t, "")
	c := newClient(a.URL(), b.URL())
	r := registration("auth-1", 9001)
	r.HeartbeatEvery = 20 * time.Millisecond
	reg := discovery.NewRegistrar(c, r, nil)
	reg.Start(context.Background())

	onlyA, onlyB := newClient(a.URL()), newClient(b.URL())
	waitFor(t, onlyA, "auth", has("auth-1"))
	waitFor(t, onlyB, "auth", has("auth-1"))

	// One server down: reads fail over, and the other keeps the lease.
	a.Stop()
	up, err := c.Instances(context.Background(), "auth")
	require.NoError(t, err)
	assert.Equal(t, []string{"auth-1"}, ids(up))
	b.clock.Advance(4 * time.Second)
	waitFor(t, onlyB, "auth", func(in []discovery.Instance) bool {
		return len(in) == 1 && in[0].LeaseExpiresAt.After(b.clock.Now())
	})

	// A client listing a dead server first still reads.
	dead := newClient(a.URL(), b.URL())
	up, err = dead.Instances(context.Background(), "auth")
	require.NoError(t, err)
	assert.Len(t, up, 1)

	require.NoError(t, reg.Stop(context.Background()), "deregistration from the live server suffices")
	v, err := onlyB.Lookup(context.Background(), "auth")
	require.NoError(t, err)
	assert.Empty(t, v.Instances)
}

func TestStatusChangesAndInstancesShowsOnlyUp(t *testing.T) {
	srv := startServer(t, "")
	c := newClient(srv.URL())
	r1 := discovery.NewRegistrar(c, registration("auth-1", 9001), nil)
	r2 := discovery.NewRegistrar(c, registration("auth-2", 9002), nil)
	r1.Start(context.Background())
	r2.Start(context.Background())
	waitFor(t, c, "auth", func(in []discovery.Instance) bool { return len(in) == 2 })

	require.NoError(t, r2.SetStatus(context.Background(), discovery.StatusOutOfService))
	up, err := c.Instances(context.Background(), "auth")
	require.NoError(t, err)
	assert.Equal(t, []string{"auth-1"}, ids(up))
	v, err := c.Lookup(context.Background(), "auth")
	require.NoError(t, err)
	assert.Len(t, v.Instances, 2, "Lookup shows every status")

	all, err := c.Services(context.Background())
	require.NoError(t, err)
	require.Len(t, all.Services, 1)
	assert.Equal(t, "auth", all.Services[0].Service)
}

// A registration the server refuses (400: here a lease outside its range,
// which a service's own -discovery-ttl cannot ask for since it refuses to
// start) is refused on every retry, so each refusal is logged at error
// level, not only the first as a warning, and the instance stays unlisted.
func TestRefusedRegistrationIsAnErrorEachTime(t *testing.T) {
	srv := startServer(t, "")
	var out logtest.Buffer
	logger, err := logging.New(&out, "auth", "json", "info")
	require.NoError(t, err)
	c := discovery.NewClient([]string{srv.URL()}, token, nil, logger, discovery.WithRetry(10*time.Millisecond, 20*time.Millisecond))
	r := registration("auth-ttl", 9001)
	r.TTL = 10 * time.Minute
	reg := discovery.NewRegistrar(c, r, logger)
	reg.Start(context.Background())
	defer func() { _ = reg.Stop(context.Background()) }()
	refusals := func() int {
		return strings.Count(out.String(), `"level":"error","msg":"discovery server refuses this registration`)
	}
	require.Eventually(t, func() bool { return refusals() >= 3 }, 5*time.Second, 10*time.Millisecond, out.String())
	assert.Contains(t, out.String(), "ttlSeconds")
	v, err := c.Lookup(context.Background(), "auth")
	require.NoError(t, err)
	assert.Empty(t, v.Instances)
}

func TestWrongTokenIsRefused(t *testing.T) {
	srv := startServer(t, "")
	rogue := discovery.NewClient([]string{srv.URL()}, "not-the-token", nil, nil)
	err := rogue.Register(context.Background(), registration("evil", 6666))
	var se *discovery.StatusError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusForbidden, se.Code)
	v, err := rogue.Lookup(context.Background(), "auth")
	require.NoError(t, err, "reads are open")
	assert.Empty(t, v.Instances)
}

func TestInstancerFollowsChanges(t *testing.T) {
	srv := startServer(t, "")
	c := newClient(srv.URL())
	in := c.Instancer("auth")
	defer in.Stop()

	events := make(chan sd.Event, 16)
	in.Register(events)
	defer in.Deregister(events)
	next := func(want []string) {
		t.Helper()
		timeout := time.After(generous)
		for {
			select {
			case ev := <-events:
				require.NoError(t, ev.Err)
				if slices.Equal(ev.Instances, want) || (len(want) == 0 && len(ev.Instances) == 0) {
					return
				}
			case <-timeout:
				t.Fatalf("no event with %v", want)
			}
		}
	}
	next(nil) // the current state, at once

	r1 := discovery.NewRegistrar(c, registration("auth-1", 9001), nil)
	r1.Start(context.Background())
	next([]string{"127.0.0.1:9001"})

	r2 := discovery.NewRegistrar(c, registration("auth-2", 9002), nil)
	r2.Start(context.Background())
	next([]string{"127.0.0.1:9001", "127.0.0.1:9002"})

	require.NoError(t, r1.SetStatus(context.Background(), discovery.StatusDown))
	next([]string{"127.0.0.1:9002"})

	require.NoError(t, r2.Stop(context.Background()))
	next(nil)
	assert.Empty(t, in.Instances())
	_ = r1.Stop(context.Background())
}

func TestInstancerReportsAnUnreachableRegistryAndRecovers(t *testing.T) {
	srv := startServer(t, "")
	addr := srv.addr
	srv.Stop()
	c := newClient("http://" + addr)
	in := c.Instancer("auth")
	defer in.Stop()
	assert.Error(t, in.State().Err, "nothing answers")

	restarted := startServer(t, addr)
	_ = restarted
	reg := discovery.NewRegistrar(c, registration("auth-1", 9001), nil)
	reg.Start(context.Background())
	defer func() { _ = reg.Stop(context.Background()) }()
	deadline := time.After(generous)
	for {
		st := in.State()
		if st.Err == nil && slices.Equal(st.Instances, []string{"127.0.0.1:9001"}) {
			return
		}
		select {
		case <-in.Changed():
		case <-deadline:
			t.Fatalf("instancer did not recover: %+v", st)
		}
	}
}

func TestGoKitBalancerOverTheInstancer(t *testing.T) {
	srv := startServer(t, "")
	c := newClient(srv.URL())
	b1, p1 := backend(t, "one")
	b2, p2 := backend(t, "two")
	_, _ = b1, b2
	for i, p := range []int{p1, p2} {
		r := discovery.NewRegistrar(c, registration("auth-"+strconv.Itoa(i), p), nil)
		r.Start(context.Background())
		defer func() { _ = r.Stop(context.Background()) }()
	}
	in := c.Instancer("auth")
	defer in.Stop()
	for {
		if len(in.State().Instances) == 2 {
			break
		}
		select {
		case <-in.Changed():
		case <-time.After(generous):
			t.Fatal("instances not seen")
		}
	}

	factory := func(instance string) (kitendpoint.Endpoint, io.Closer, error) {
		return func(context.Context, any) (any, error) { return instance, nil }, nil, nil
	}
	endpointer := sd.NewEndpointer(in, factory, log.NewNopLogger())
	defer endpointer.Close()
	balancer := lb.NewRoundRobin(endpointer)
	seen := map[string]bool{}
	deadline := time.Now().Add(generous)
	for len(seen) < 2 && time.Now().Before(deadline) {
		e, err := balancer.Endpoint()
		if errors.Is(err, lb.ErrNoEndpoints) {
			time.Sleep(time.Millisecond) // the endpointer applies events on its own goroutine
			continue
		}
		require.NoError(t, err)
		got, err := e(context.Background(), nil)
		require.NoError(t, err)
		seen[got.(string)] = true
	}
	assert.Equal(t, map[string]bool{"127.0.0.1:" + strconv.Itoa(p1): true, "127.0.0.1:" + strconv.Itoa(p2): true}, seen)
}

func TestTransportResolvesServiceNames(t *testing.T) {
	srv := startServer(t, "")
	c := newClient(srv.URL())
	defer c.Close()
	_, port := backend(t, "jwks")
	reg := discovery.NewRegistrar(c, registration("auth-1", port), nil)
	reg.Start(context.Background())
	defer func() { _ = reg.Stop(context.Background()) }()
	waitFor(t, c, "auth", has("auth-1"))

	hc := &http.Client{Transport: c.Transport(nil), Timeout: generous}
	resp, err := hc.Get("http://auth/.well-known/jwks.json")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "jwks /.well-known/jwks.json", string(body))

	// Hosts that are not bare service names pass through untouched.
	direct, _ := backend(t, "direct")
	resp, err = hc.Get(direct.URL + "/x")
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "direct /x", string(body))

	_, err = hc.Get("http://patient/api/v1/patients")
	assert.ErrorIs(t, err, discovery.ErrNoInstance)
}
