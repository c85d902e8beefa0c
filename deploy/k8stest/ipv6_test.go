package k8stest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/medisync/medisync/shared/clientip"
	"github.com/medisync/medisync/shared/discovery"
)

// An IPv6 pod address, as status.podIP gives it on an IPv6 (or IPv6-first
// dual-stack) cluster; deploy/prometheus/kubernetes.yml already relabels
// such addresses, so the manifests are meant to run there.
const ipv6PodIP = "fd00:10:244:1::2a"

// TestAdvertisedAddressIsThePodsOnIPv6 expands each workload's
// MEDISYNC_ADVERTISE_ADDR as the kubelet does and reads it as the binary
// does (shared/discovery.Advertised): the registry must be given the pod's
// own address and port, or the gateway dials an address nobody holds.
func TestAdvertisedAddressIsThePodsOnIPv6(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		for _, w := range r.workloads {
			tmpl := r.envValue(w, "MEDISYNC_ADVERTISE_ADDR")
			if tmpl == "" || r.envValue(w, "MEDISYNC_DISCOVERY_URLS") == "" {
				continue // no registry: the address is never sent
			}
			port := servicePort(w)
			listen := &net.TCPAddr{IP: net.IPv6zero, Port: int(port)}
			value := strings.ReplaceAll(tmpl, "$(POD_IP)", ipv6PodIP)
			host, got, err := discovery.Advertised(value, listen)
			if err != nil {
				t.Errorf("%s: MEDISYNC_ADVERTISE_ADDR=%q: %v", w.name, value, err)
				continue
			}
			if host != ipv6PodIP || got != int(port) {
				t.Errorf("%s: MEDISYNC_ADVERTISE_ADDR=%q (from %q) registers %s port %d, want the pod's %s port %d",
					w.name, value, tmpl, host, got, ipv6PodIP, port)
			}
		}
	})
}

// TestAuthBelievesTheGatewayOnIPv6: auth keys its login throttle on the
// X-Forwarded-For the gateway writes, believed only from a trusted proxy
// (MEDISYNC_TRUSTED_PROXIES, which auth.yaml sets to "any peer"). A gateway
// pod with an IPv6 address must be believed too, or every login counts as
// the gateway's own address.
func TestAuthBelievesTheGatewayOnIPv6(t *testing.T) {
	each(t, func(t *testing.T, r *rendered) {
		w := r.workload("auth")
		if w == nil {
			t.Fatal("no auth")
		}
		proxies := r.envValue(*w, "MEDISYNC_TRUSTED_PROXIES")
		res, err := clientip.New(strings.Split(proxies, ","))
		if err != nil {
			t.Fatal(err)
		}
		// A login relayed by a gateway pod for the client 203.0.113.9.
		req := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", nil)
		req.RemoteAddr = "[" + ipv6PodIP + "]:41234"
		req.Header.Set("X-Forwarded-For", "203.0.113.9")
		if got := res.Client(req); got != netip.MustParseAddr("203.0.113.9") {
			t.Errorf("auth MEDISYNC_TRUSTED_PROXIES=%q: a login from 203.0.113.9 through the gateway pod %s is counted as %s: every client shares the gateway's throttle", proxies, ipv6PodIP, got)
		}
	})
}
