package wire

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/gateway/route"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/authn/authntest"
)

// newGatewayApp is the gateway's app as the command makes it, with every
// routed service at a fixed address and extra flags.
func newGatewayApp(ctx context.Context, t *testing.T, s *Settings, extra ...string) *app.App {
	t.Helper()
	iss := authntest.NewIssuer(t)
	args := append([]string{"-discovery-urls", "", "-jwks-url", iss.JWKSURL(), "-metrics-addr", "",
		"-upstreams", "auth=127.0.0.1:1,patient=127.0.0.1:1,appointment=127.0.0.1:1,records=127.0.0.1:1,notification=127.0.0.1:1,doctor=127.0.0.1:1"},
		extra...)
	a, err := app.New(ctx, Options(s), args, func(string) (string, bool) { return "", false }, &strings.Builder{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func buildAndClose(ctx context.Context, t *testing.T, a *app.App, s Settings) error {
	_, closers, err := Build(ctx, a, s)
	for _, c := range closers {
		t.Cleanup(func() { _ = c(context.Background()) })
	}
	return err
}

// A document download may take its route's 55 s: a gateway told to stop
// while one is in flight drains for at least that long by default, or it
// cuts the transfer.
func TestDefaultShutdownTimeoutOutlastsTheLongestRoute(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var s Settings
	a := newGatewayApp(ctx, t, &s)
	table, err := route.New(route.Defaults())
	require.NoError(t, err)
	var longest route.Route
	for _, r := range table.Routes {
		if r.Timeout > longest.Timeout {
			longest = *r
		}
	}
	assert.GreaterOrEqual(t, a.Config.ShutdownTimeout, longest.Timeout, "route %s", longest.Pattern)
	require.NoError(t, buildAndClose(ctx, t, a, s))
}

// A drain shorter than a route's timeout would cut that route's requests
// at every deployment: the gateway refuses to start, saying which route.
func TestShutdownTimeoutShorterThanARouteRefusesToStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var s Settings
	a := newGatewayApp(ctx, t, &s, "-shutdown-timeout", "15s")
	err := buildAndClose(ctx, t, a, s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "shutdown-timeout")
	assert.Contains(t, err.Error(), "/api/v1/records/patients/*/documents/**")

	// Enough for the built-in table's longest route, and no more, is fine.
	a = newGatewayApp(ctx, t, &s, "-shutdown-timeout", "55s")
	require.NoError(t, buildAndClose(ctx, t, a, s))
}
