package main

import (
	"bytes"
	"context"
	"flag"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestRunRejectsBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"-ttl-min", "0s"},
		{"-ttl-default", "1h"},
		{"-ttl-max", "1s"},
		{"-reap-every", "0s"},
		{"-log-format", "xml"},
		{"-no-such-flag"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append(args, "-http-addr", "127.0.0.1:0"), &out, env(nil))
		assert.Error(t, err, "%v", args)
	}
	err := run(context.Background(), []string{"-http-addr", "127.0.0.1:0"}, &bytes.Buffer{},
		env(map[string]string{"MEDISYNC_TTL_MIN": "soon"}))
	assert.Error(t, err)
}

func TestRunStartsAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // stop as soon as it listens
	var out bytes.Buffer
	err := run(ctx, []string{"-http-addr", "127.0.0.1:0"}, &out, env(map[string]string{"MEDISYNC_DISCOVERY_TOKEN": "x"}))
	require.NoError(t, err)
	assert.Contains(t, out.String(), "discovery dashboard")
	assert.Contains(t, out.String(), "stopped")
	assert.NotContains(t, out.String(), "no discovery token set")
}

func TestWithoutTokensWritesAreRefusedLoudly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, []string{"-http-addr", "127.0.0.1:0"}, &out, env(nil)))
	assert.Contains(t, out.String(), "every registry write is refused")

	out.Reset()
	require.NoError(t, run(ctx, []string{"-http-addr", "127.0.0.1:0"}, &out,
		env(map[string]string{"MEDISYNC_INSECURE_OPEN_REGISTRY": "true"})))
	assert.Contains(t, out.String(), "INSECURE")
}

func TestHelpPrintsUsage(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-h"}, &out, env(nil))
	assert.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, out.String(), "-ttl-min")
	assert.Equal(t, 0, app.ExitCode(&out, "discovery", err))
}
