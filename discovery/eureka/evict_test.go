package eureka_test

import (
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/hudl/fargo"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/discovery"
)

// A Eureka-registered instance that stops renewing is evicted once its
// lease (leaseInfo.durationInSecs) lapses, and the blocking watch the
// gateway balances over (shared/discovery's Instancer) hears of it from the
// sweep itself, with no polling period in between.
func TestLapsedEurekaInstanceIsEvictedAndWatchersHear(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC))
	cfg := wire.DefaultConfig()
	cfg.EurekaWarmUp = 0 // a server fresh for the test, no clients to wait for
	cfg.Clock = clk
	s, err := wire.New(cfg, []string{"-discovery-token", token}, io.Discard)
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler)
	t.Cleanup(srv.Close)

	conn := fargo.NewConn(srv.URL[:7] + "x:" + token + "@" + srv.URL[7:] + "/eureka")
	conn.UseJson = true
	inst := fargoInstance("billing-1", 9001)
	inst.LeaseInfo.DurationInSecs = 10
	require.NoError(t, conn.ReregisterInstance(inst))

	c := discovery.NewClient([]string{srv.URL}, "", nil, log.NewNopLogger())
	t.Cleanup(c.Close)
	in := c.Instancer("legacy-billing") // as the gateway asks, its route targets lower-cased
	defer in.Stop()
	events := make(chan sd.Event, 16)
	in.Register(events)
	defer in.Deregister(events)
	next := func(want ...string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.Err == nil && (slices.Equal(ev.Instances, want) || len(want) == 0 && len(ev.Instances) == 0) {
					return
				}
			case <-timeout:
				t.Fatalf("no event with %v", want)
			}
		}
	}
	next("127.0.0.1:9001")

	// Still within the lease: a sweep keeps it.
	clk.Advance(10 * time.Second)
	_, _ = s.Service.Evict(context.Background())
	require.Len(t, ours(t, srv, "legacy-billing"), 1)

	clk.Advance(time.Second)
	evicted, err := s.Service.Evict(context.Background())
	require.NoError(t, err)
	require.Len(t, evicted, 1)
	next()

	app, err := conn.GetApp("LEGACY-BILLING")
	require.Error(t, err, "evicted: %v", app)
	delta, err := conn.GetApps()
	require.NoError(t, err)
	require.NotContains(t, delta, "LEGACY-BILLING")
}
