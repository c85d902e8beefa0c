package clientip

import (
	"net/http/httptest"
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
	assert.Equal(t, "6.6.6.6, 198.51.100.1, 192.0.2.7, 10.1.2.3", r.ForwardedFor(req))

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
