package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/go-kit/log/level"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/logging"
)

func TestFromContextAddsTraceAndSpanIDs(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "patient", "json", "info")
	require.NoError(t, err)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	require.NoError(t, level.Info(logging.FromContext(ctx, logger)).Log("msg", "x"))
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	assert.Equal(t, "01020300000000000000000000000000", line["traceId"])
	assert.Equal(t, "0405060000000000", line["spanId"])

	buf.Reset()
	require.NoError(t, level.Info(logging.FromContext(context.Background(), logger)).Log("msg", "x"))
	assert.NotContains(t, buf.String(), "traceId", "no span, no ids")
}
