package discovery

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAdvertised(t *testing.T) {
	listen := &net.TCPAddr{IP: net.IPv6zero, Port: 8081}
	cases := map[string]struct {
		host string
		port int
	}{
		"":                    {"127.0.0.1", 8081},
		"10.0.0.5":            {"10.0.0.5", 8081},
		"auth-1.internal":     {"auth-1.internal", 8081},
		"10.0.0.5:9000":       {"10.0.0.5", 9000},
		":9000":               {"127.0.0.1", 9000},
		"[::1]:9000":          {"::1", 9000},
		"[fd00::1]":           {"fd00::1", 8081},
		"fd00:10:244:1::2a":   {"fd00:10:244:1::2a", 8081},
		"fd00::2a:9000":       {"fd00::2a:9000", 8081},
		"fd00:10:244:1::8081": {"fd00:10:244:1::8081", 8081}, // a pod may hold an address ending in its port
		"  doctor.local:80  ": {"doctor.local", 80},
	}
	for in, want := range cases {
		host, port, err := Advertised(in, listen)
		require.NoError(t, err, in)
		assert.Equal(t, want.host, host, in)
		assert.Equal(t, want.port, port, in)
	}
	for _, bad := range []string{"h:0", "h:70000", "h:http"} {
		_, _, err := Advertised(bad, listen)
		assert.Error(t, err, bad)
	}
}

// TestAdvertisedRefusesAnIPv6AddressWithAPortGluedOn: "$(POD_IP):8081" on
// an IPv6 pod with eight groups reads as no address; the start must stop
// with a message that says how to write it, not register an address nobody
// listens on.
func TestAdvertisedRefusesAnIPv6AddressWithAPortGluedOn(t *testing.T) {
	listen := &net.TCPAddr{IP: net.IPv6zero, Port: 8081}
	for _, glued := range []string{
		"fd00:10:244:1:0:0:0:2a:8081",  // nine groups: no address
		"fd00:10:244:1:0:0:0:2a:18081", // likewise, with another port
		"2001:db8:85a3:8d3:1319:8a2e:370:7348:8081",
	} {
		_, _, err := Advertised(glued, listen)
		if assert.Error(t, err, glued) {
			assert.Contains(t, err.Error(), "[address]:port", glued)
		}
	}
}

func TestInstanceID(t *testing.T) {
	assert.Equal(t, "auth-127.0.0.1-8081", InstanceID("auth", "127.0.0.1", 8081))
	assert.Equal(t, "doctor-fd00::1-8082", InstanceID("doctor", "fd00::1", 8082))
	assert.Equal(t, "patient-h-st-1", InstanceID("patient", "h/st", 1))
	assert.Len(t, InstanceID("auth", string(make([]byte, 300)), 1), 128)
}
