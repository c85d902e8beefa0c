package app_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/app"
)

func TestTracingFollowsTheOTLPEndpoint(t *testing.T) {
	args := []string{"-discovery-urls", ""}
	a, err := app.New(context.Background(), app.Options{Name: "w", DefaultAddr: ":0"}, args, nil, &bytes.Buffer{})
	require.NoError(t, err)
	assert.False(t, a.Tracing.Enabled(), "off without an endpoint")
	require.NoError(t, a.Close())

	env := map[string]string{"MEDISYNC_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	a, err = app.New(context.Background(), app.Options{Name: "w", DefaultAddr: ":0"}, args, lookup, &bytes.Buffer{})
	require.NoError(t, err)
	assert.True(t, a.Tracing.Enabled())
	require.NoError(t, a.Close())

	env["MEDISYNC_OTLP_ENDPOINT"] = "127.0.0.1:4318"
	_, err = app.New(context.Background(), app.Options{Name: "w", DefaultAddr: ":0"}, args, lookup, &bytes.Buffer{})
	assert.ErrorContains(t, err, "OTLP endpoint")
}
