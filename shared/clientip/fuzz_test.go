package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// FuzzForwardedFor: whatever X-Forwarded-For lines reach the gateway, the
// client it finds is the peer or an address of the lines, and a service
// behind it that trusts every address (auth's login throttle) finds the
// same client in the header the gateway sends on.
func FuzzForwardedFor(f *testing.F) {
	for _, s := range []struct{ peer, xff string }{
		{"10.0.0.2:5555", "6.6.6.6, 203.0.113.9"},
		{"10.0.0.2:5555", "6.6.6.6\n7.7.7.7, 203.0.113.9\n10.0.0.1"},
		{"10.0.0.2:5555", "10.0.0.9, 10.0.0.1"},
		{"10.0.0.2:5555", "6.6.6.6, garbage, 10.0.0.1"},
		{"10.0.0.2:5555", "203.0.113.9\n\n10.0.0.1"},
		{"10.0.0.2:5555", "203.0.113.9,\n10.0.0.1"},
		{"[::ffff:10.0.0.2]:1", "::ffff:203.0.113.9, fe80::1%eth0"},
		{"[2001:db8::7]:443", " 2001:db8::1 ,\t198.51.100.1 "},
		{"203.0.113.9:80", "1.2.3.4"},
		{"@", "1.2.3.4"},
	} {
		f.Add(s.peer, s.xff)
	}
	gw, err := New([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"})
	if err != nil {
		f.Fatal(err)
	}
	auth, err := New([]string{"0.0.0.0/0", "::/0"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		in := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", nil)
		in.RemoteAddr = peer
		if xff != "" {
			in.Header["X-Forwarded-For"] = strings.Split(xff, "\n")
		}
		client := gw.Client(in)
		if client != Remote(in) && !holds(in.Header["X-Forwarded-For"], client) {
			t.Fatalf("peer %q, X-Forwarded-For %q: client %s is neither", peer, xff, client)
		}
		sent := gw.ForwardedFor(in)
		if !Remote(in).IsValid() {
			if sent != "" {
				t.Fatalf("peer %q is no address, yet %q is forwarded", peer, sent)
			}
			return
		}
		out := httptest.NewRequest(http.MethodPost, "/api/v1/auth/login", nil)
		out.RemoteAddr = "10.1.0.7:40000" // the gateway
		out.Header.Set("X-Forwarded-For", sent)
		if got := auth.Client(out); got != client {
			t.Fatalf("peer %q, X-Forwarded-For %q: the gateway finds %s and forwards %q, in which auth finds %s",
				peer, xff, client, sent, got)
		}
	})
}

// holds reports whether one of the entries of lines is a.
func holds(lines []string, a netip.Addr) bool {
	for _, line := range lines {
		for _, e := range strings.Split(line, ",") {
			if b, err := netip.ParseAddr(strings.TrimSpace(e)); err == nil && b.Unmap() == a {
				return true
			}
		}
	}
	return false
}
