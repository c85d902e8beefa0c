package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientBehindTrustedProxies(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8", "192.0.2.7", " "})
	require.NoError(t, err)

	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "203.0.113.9:5000"
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	assert.Equal(t, "203.0.113.9", r.Client(req).String(), "an untrusted peer's header is ignored")
	assert.Equal(t, "203.0.113.9", r.ForwardedFor(req), "and replaced upstream")

	req.RemoteAddr = "10.1.2.3:5000"
	req.Header["X-Forwarded-For"] = []string{"6.6.6.6, 198.51.100.1", "192.0.2.7"}
	assert.Equal(t, "198.51.100.1", r.Client(req).String(), "rightmost untrusted hop")
	assert.Equal(t, "198.51.100.1, 192.0.2.7, 10.1.2.3", r.ForwardedFor(req), "from the client on")

	req.Header["X-Forwarded-For"] = []string{"10.9.9.9"}
	assert.Equal(t, "10.9.9.9", r.Client(req).String(), "all trusted: the leftmost")

	req.Header["X-Forwarded-For"] = []string{"1.1.1.1, garbage"}
	assert.Equal(t, "10.1.2.3", r.Client(req).String(), "a malformed entry is not believed")

	req.Header.Del("X-Forwarded-For")
	assert.Equal(t, "10.1.2.3", r.Client(req).String())
	assert.Equal(t, "10.1.2.3", r.ForwardedFor(req))

	req.RemoteAddr = "[::ffff:10.0.0.1]:80"
	assert.True(t, r.Trusted(Remote(req)), "IPv4-mapped addresses are unmapped")
}

func TestNoTrustedProxies(t *testing.T) {
	r, err := New(nil)
	require.NoError(t, err)
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "[2001:db8::1]:443"
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	assert.Equal(t, "2001:db8::1", r.Client(req).String())
}

func TestBadProxies(t *testing.T) {
	_, err := New([]string{"10.0.0.0/33"})
	assert.Error(t, err)
	_, err = New([]string{"proxy.local"})
	assert.Error(t, err)
}

// The gateway behind a trusted load balancer (10.0.0.0/8) sends upstream
// only the part of the chain it believes, so a service trusting the gateway
// with every address (auth as shipped: MEDISYNC_TRUSTED_PROXIES=0.0.0.0/0,::/0,
// for its login throttle) finds the same client, not one the client wrote.
func TestForwardedForCarriesOnlyTheBelievedChain(t *testing.T) {
	gw, err := New([]string{"10.0.0.0/8"})
	require.NoError(t, err)
	auth, err := New([]string{"0.0.0.0/0", "::/0"})
	require.NoError(t, err)
	upstream := func(in *http.Request) *http.Request {
		out := httptest.NewRequest("POST", "/api/v1/auth/login", nil)
		out.RemoteAddr = "10.1.0.7:40000" // the gateway
		out.Header.Set("X-Forwarded-For", gw.ForwardedFor(in))
		return out
	}

	in := httptest.NewRequest("POST", "/api/v1/auth/login", nil)
	in.RemoteAddr = "10.0.0.2:5555"                          // the load balancer
	in.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.9") // the client wrote 6.6.6.6; the balancer appended its peer
	require.Equal(t, "203.0.113.9", gw.Client(in).String())
	out := upstream(in)
	assert.Equal(t, "203.0.113.9, 10.0.0.2", out.Header.Get("X-Forwarded-For"))
	assert.Equal(t, "203.0.113.9", auth.Client(out).String(), "auth's throttle keys the same client")

	for name, c := range map[string]struct {
		lines []string
		want  string
	}{
		"several lines":      {[]string{"6.6.6.6", "7.7.7.7, 203.0.113.9", "10.0.0.1"}, "203.0.113.9, 10.0.0.1, 10.0.0.2"},
		"the client's line":  {[]string{"6.6.6.6,203.0.113.9", "10.0.0.1"}, "203.0.113.9, 10.0.0.1, 10.0.0.2"},
		"all trusted":        {[]string{"10.0.0.9, 10.0.0.1"}, "10.0.0.9, 10.0.0.1, 10.0.0.2"},
		"malformed, trusted": {[]string{"6.6.6.6, garbage, 10.0.0.1"}, "10.0.0.1, 10.0.0.2"},
		"malformed last":     {[]string{"6.6.6.6, garbage"}, "10.0.0.2"},
	} {
		in.Header["X-Forwarded-For"] = c.lines
		assert.Equal(t, c.want, gw.ForwardedFor(in), name)
		assert.Equal(t, gw.Client(in), auth.Client(upstream(in)), name)
	}
}

// IPv4 written as IPv4-mapped IPv6 is the same address, in the trusted
// proxies and in X-Forwarded-For alike.
func TestIPv4MappedAddressesAreUnmapped(t *testing.T) {
	r, err := New([]string{"::ffff:192.0.2.7"})
	require.NoError(t, err)
	assert.True(t, r.Trusted(netip.MustParseAddr("192.0.2.7")), "a proxy configured in its mapped form")

	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "192.0.2.7:5000"
	req.Header.Set("X-Forwarded-For", "::ffff:203.0.113.9")
	assert.Equal(t, "203.0.113.9", r.Client(req).String(), "a client the proxy wrote in its mapped form")
}

// A RemoteAddr without a port is still the peer; one that is no address at
// all gives no client and nothing to forward.
func TestRemoteAddrWithoutPortOrUnparsable(t *testing.T) {
	r, err := New([]string{"10.0.0.0/8"})
	require.NoError(t, err)
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "203.0.113.9"
	assert.Equal(t, "203.0.113.9", Remote(req).String())
	assert.Equal(t, "203.0.113.9", r.ForwardedFor(req))

	req.RemoteAddr = "@"
	req.Header.Set("X-Forwarded-For", "1.2.3.4")
	assert.False(t, Remote(req).IsValid())
	assert.False(t, r.Client(req).IsValid(), "an unknown peer is no trusted proxy")
	assert.Equal(t, "", r.ForwardedFor(req))
}
