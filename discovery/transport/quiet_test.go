package transport_test

import (
	"bytes"
	"testing"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/discovery/transport"
)

func TestQuietHeartbeats(t *testing.T) {
	var buf bytes.Buffer
	l := transport.QuietHeartbeats(log.NewLogfmtLogger(&buf), false)
	_ = l.Log("msg", "request", "route", transport.RouteHeartbeat, "status", 200)
	assert.Empty(t, buf.String(), "a successful heartbeat is not logged")
	_ = l.Log("msg", "request", "route", transport.RouteHeartbeat, "status", 404)
	assert.Contains(t, buf.String(), "status=404")
	buf.Reset()
	_ = l.Log("msg", "request", "route", transport.RouteInstance, "status", 201)
	assert.Contains(t, buf.String(), "status=201")

	buf.Reset()
	verbose := transport.QuietHeartbeats(log.NewLogfmtLogger(&buf), true)
	_ = verbose.Log("msg", "request", "route", transport.RouteHeartbeat, "status", 200)
	assert.Contains(t, buf.String(), "status=200")
}
