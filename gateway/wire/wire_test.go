package wire

import (
	"context"
	"io"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/ratelimit"
	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/logging/logtest"
	"github.com/medisync/medisync/shared/runtest"
)

func TestFixedInstances(t *testing.T) {
	got, err := fixedInstances(" patient=127.0.0.1:8083, patient=127.0.0.1:9083,auth=h:1 ")
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"patient": {"127.0.0.1:8083", "127.0.0.1:9083"}, "auth": {"h:1"}}, got)
	for _, bad := range []string{"patient", "=h:1", "patient="} {
		_, err := fixedInstances(bad)
		assert.Error(t, err, bad)
	}
}

func TestRouteLinesNameTheServicePeer(t *testing.T) {
	iss := authntest.NewIssuer(t)
	var s Settings
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, Options(&s), []string{"-discovery-urls", "", "-jwks-url", iss.JWKSURL(), "-metrics-addr", "",
		"-upstreams", "auth=127.0.0.1:1,patient=127.0.0.1:1,appointment=127.0.0.1:1,records=127.0.0.1:1,notification=127.0.0.1:1,doctor=127.0.0.1:1"},
		func(string) (string, bool) { return "", false }, &strings.Builder{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	// A plain logger: the process logger would rename a second "service"
	// to "peer" itself, hiding a call site that wrote the wrong key.
	var logs logtest.Buffer
	a.Logger = log.NewLogfmtLogger(&logs)
	_, closers, err := Build(ctx, a, s)
	require.NoError(t, err)
	for _, c := range closers {
		t.Cleanup(func() { _ = c(context.Background()) })
	}
	assert.Contains(t, logs.String(), "msg=route path=/api/v1/patients/** peer=patient ")
	assert.NotContains(t, logs.String(), "service=")
}

// A rate-limit Redis URL that does not parse (a password with a character a
// URL must escape, say) stops the gateway with a message that quotes no
// part of it: the parser's own would print the password.
func TestAnUnparsableRedisURLIsRefusedWithoutItsPassword(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const password = "Xk9^pw{42}"
	var s Settings
	a := newGatewayApp(ctx, t, &s, "-rate-limit-redis-url", "redis://:"+password+"@127.0.0.1:6379/0")
	err := buildAndClose(ctx, t, a, s)
	require.Error(t, err, "the URL does not parse")
	var stderr strings.Builder
	app.ExitCode(&stderr, "gateway", err)
	assert.NotContains(t, stderr.String(), password, "what the gateway prints as it exits")
	assert.Contains(t, stderr.String(), "invalid rate-limit Redis URL")
}

// go-redis's own lines, which it would print to standard error in a format
// of its own, go through the gateway's logger as structured lines.
func TestRedisClientLinesGoThroughTheLogger(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved, err := syscall.Dup(2)
	require.NoError(t, err)
	require.NoError(t, syscall.Dup3(int(w.Fd()), 2, 0))
	restored := false
	restore := func() {
		if !restored {
			restored = true
			_ = syscall.Dup3(saved, 2, 0)
			_ = syscall.Close(saved)
			_ = w.Close()
		}
	}
	t.Cleanup(restore)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := runtest.RefusedAddr(t)
	var s Settings
	a := newGatewayApp(ctx, t, &s)
	var logs logtest.Buffer
	a.Logger = log.NewLogfmtLogger(&logs)
	opts, closeShared, err := sharedLimits(a, "redis://"+addr+"/0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = closeShared(context.Background()) })
	l := ratelimit.New(ratelimit.Policy{Name: "general", RPS: 1, Burst: 1}, opts(route.ClassGeneral)...)
	assert.True(t, l.Allow(ctx, ratelimit.AddrKey(netip.MustParseAddr("203.0.113.9"))).Allowed, "decided locally")

	restore()
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Empty(t, string(out), "lines written to standard error outside the logger")
	assert.Contains(t, logs.String(), `level=debug msg="redis client" err="redis: connection pool: failed to dial after 1 attempts`)
	assert.Contains(t, logs.String(), `level=warn msg="shared rate limits unavailable; deciding with local buckets"`)
}
