package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A service registered through the Eureka API (as a Spring Boot service
// would) is routed by the gateway through a route of the route file naming
// its Eureka application; once it stops renewing it is evicted after its
// lease, and the gateway stops routing to it within a second of that.
func TestEurekaInstanceRoutedThenEvicted(t *testing.T) {
	discEnv := discoveryEnv()
	discEnv["MEDISYNC_TTL_MIN"] = "1s"
	discEnv["MEDISYNC_REAP_EVERY"] = "100ms"
	disc := start(t, "discovery", "discovery", discEnv)

	// The legacy service itself keeps answering throughout: once it is
	// evicted, only the gateway's own view can stop the traffic.
	var hits atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = fmt.Fprintf(w, "legacy billing: %s", r.URL.Path)
	}))
	t.Cleanup(upstream.Close)
	host, portStr, _ := strings.Cut(strings.TrimPrefix(upstream.URL, "http://"), ":")
	port, _ := strconv.Atoi(portStr)

	const leaseSecs = 2
	eureka := func(method, path string, body []byte) int {
		t.Helper()
		req, err := http.NewRequest(method, disc.url("/eureka"+path), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		// Eureka clients carry the token as the password of the service URL.
		req.SetBasicAuth("legacy-billing", discToken)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	doc := fmt.Sprintf(`{"instance":{"instanceId":"billing-1","hostName":%q,"app":"LEGACY-BILLING","ipAddr":%q,
		"vipAddress":"legacy-billing","status":"UP","port":{"$":%d,"@enabled":"true"},
		"securePort":{"$":443,"@enabled":"false"},
		"dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
		"leaseInfo":{"renewalIntervalInSecs":1,"durationInSecs":%d},"metadata":{"version":"7.2"}}}`,
		host, host, port, leaseSecs)
	if c := eureka(http.MethodPost, "/apps/LEGACY-BILLING", []byte(doc)); c != http.StatusNoContent {
		t.Fatalf("Eureka registration: %d, want 204", c)
	}

	// Renewals, as the Eureka client sends them, until told to stop.
	stop := make(chan struct{})
	stopped := make(chan time.Time, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			sent := time.Now()
			if c := eureka(http.MethodPut, "/apps/LEGACY-BILLING/billing-1?status=UP", nil); c != http.StatusOK {
				t.Errorf("renewal: %d, want 200", c)
			}
			select {
			case <-stop:
				stopped <- sent
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	})

	routes := filepath.Join(t.TempDir(), "routes.yaml")
	if err := os.WriteFile(routes, []byte(`routes:
  - path: /api/v1/legacy/**
    service: LEGACY-BILLING
    auth: public
    rateLimit: none
`), 0o600); err != nil {
		t.Fatal(err)
	}
	gw := start(t, "gateway", "gateway", map[string]string{
		"MEDISYNC_DISCOVERY_URLS":  disc.url(""),
		"MEDISYNC_DISCOVERY_TOKEN": discToken,
		"MEDISYNC_DISCOVERY_TTL":   "5s",
		"MEDISYNC_ROUTES_FILE":     routes,
		"MEDISYNC_METRICS_ADDR":    "127.0.0.1:0",
	})
	hc := &http.Client{Timeout: 5 * time.Second}
	get := func() (int, string) {
		resp, err := hc.Get(gw.url("/api/v1/legacy/invoices/7"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "the gateway to route to the Eureka instance", 20*time.Second, func() bool {
		c, body := get()
		return c == http.StatusOK && body == "legacy billing: /api/v1/legacy/invoices/7"
	})

	// Renewing keeps it routed past several leases.
	keepUntil := time.Now().Add(2 * leaseSecs * time.Second)
	for time.Now().Before(keepUntil) {
		if c, body := get(); c != http.StatusOK {
			t.Fatalf("routed while renewing: %d %s", c, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	close(stop)
	lastRenewal := <-stopped
	// Watch discovery and the gateway side by side: when discovery first
	// shows the instance gone, and when the gateway first stops routing.
	var evictedAt, unroutedAt time.Time
	deadline := lastRenewal.Add(leaseSecs*time.Second + 10*time.Second)
	for (evictedAt.IsZero() || unroutedAt.IsZero()) && time.Now().Before(deadline) {
		now := time.Now()
		if evictedAt.IsZero() && len(registered(t, disc, "legacy-billing")) == 0 {
			evictedAt = now
		}
		if unroutedAt.IsZero() {
			if c, _ := get(); c != http.StatusOK {
				if c != http.StatusServiceUnavailable {
					t.Fatalf("with no instance the gateway answered %d, want 503", c)
				}
				unroutedAt = now
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if evictedAt.IsZero() || unroutedAt.IsZero() {
		t.Fatalf("evicted at %v, unrouted at %v: one never happened", evictedAt, unroutedAt)
	}
	if lease := evictedAt.Sub(lastRenewal); lease < leaseSecs*time.Second {
		t.Fatalf("evicted %s after the last renewal, before its %ds lease ended", lease, leaseSecs)
	}
	if lag := unroutedAt.Sub(evictedAt); lag > time.Second {
		t.Fatalf("the gateway still routed %s after the eviction", lag)
	}
	t.Logf("evicted %s after the last renewal; gateway stopped routing %s after the eviction",
		evictedAt.Sub(lastRenewal).Round(time.Millisecond), unroutedAt.Sub(evictedAt).Round(time.Millisecond))
	// It stays unrouted, though the service itself still answers.
	before := hits.Load()
	if c, _ := get(); c != http.StatusServiceUnavailable {
		t.Fatalf("after eviction: %d, want 503", c)
	}
	if hits.Load() != before {
		t.Fatal("the evicted instance still got traffic")
	}
}
