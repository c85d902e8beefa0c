package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/requestid"
)

func TestJSONLineHasStandardKeys(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "doctor", "json", "info")
	require.NoError(t, err)

	require.NoError(t, level.Info(logger).Log("msg", "started", "port", 8082))

	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	assert.Equal(t, "info", line["level"])
	assert.Equal(t, "doctor", line["service"])
	assert.Equal(t, "started", line["msg"])
	assert.EqualValues(t, 8082, line["port"])
	require.IsType(t, "", line["ts"])
	ts, err := time.Parse(time.RFC3339Nano, line["ts"].(string))
	require.NoError(t, err)
	assert.Equal(t, time.UTC, ts.Location())
	assert.Regexp(t, `^logging_test\.go:\d+$`, line["caller"], "caller names the calling file")
}

func TestLogfmtLineHasStandardKeys(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "patient", "logfmt", "debug")
	require.NoError(t, err)

	require.NoError(t, level.Debug(logger).Log("msg", "hello world"))

	line := buf.String()
	assert.Regexp(t, `^level=debug `, line)
	assert.Regexp(t, ` ts=\d{4}-\d\d-\d\dT\S+Z `, line)
	assert.Contains(t, line, " service=patient ")
	assert.Regexp(t, ` caller=logging_test\.go:\d+ `, line)
	assert.Contains(t, line, `msg="hello world"`)
}

func TestDefaultFormatIsLogfmt(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "auth", "", "")
	require.NoError(t, err)

	require.NoError(t, level.Info(logger).Log("msg", "x"))
	require.NoError(t, level.Debug(logger).Log("msg", "hidden"))

	assert.True(t, strings.HasPrefix(buf.String(), "level=info "), buf.String())
	assert.NotContains(t, buf.String(), "hidden", "the default level is info")
}

func TestCallerThroughLoggerWithoutLevel(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "gateway", "logfmt", "info")
	require.NoError(t, err)

	require.NoError(t, logger.Log("msg", "plain"))

	assert.Regexp(t, ` caller=logging_test\.go:\d+ `, buf.String())
}

func TestCallerThroughFromContext(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "gateway", "logfmt", "info")
	require.NoError(t, err)
	ctx := requestid.With(context.Background(), "rid-7")

	require.NoError(t, level.Warn(logging.FromContext(ctx, logger)).Log("msg", "slow"))

	line := buf.String()
	assert.Regexp(t, ` caller=logging_test\.go:\d+ `, line)
	assert.Contains(t, line, " requestId=rid-7")
	assert.Regexp(t, `^level=warn `, line)
}

func TestFromContextWithoutRequestID(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "gateway", "logfmt", "info")
	require.NoError(t, err)

	require.NoError(t, level.Info(logging.FromContext(context.Background(), logger)).Log("msg", "x"))

	assert.NotContains(t, buf.String(), "requestId")
}

func TestLevelFiltering(t *testing.T) {
	emit := func(t *testing.T, lvl string) string {
		var buf bytes.Buffer
		logger, err := logging.New(&buf, "svc", "logfmt", lvl)
		require.NoError(t, err)
		_ = level.Debug(logger).Log("msg", "d")
		_ = level.Info(logger).Log("msg", "i")
		_ = level.Warn(logger).Log("msg", "w")
		_ = level.Error(logger).Log("msg", "e")
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if l != "" {
				got = append(got, strings.TrimPrefix(strings.Fields(l)[0], "level="))
			}
		}
		return strings.Join(got, ",")
	}
	assert.Equal(t, "debug,info,warn,error", emit(t, "debug"))
	assert.Equal(t, "info,warn,error", emit(t, "info"))
	assert.Equal(t, "warn,error", emit(t, "WARN"))
	assert.Equal(t, "error", emit(t, "error"))
}

func TestBadFormatOrLevel(t *testing.T) {
	_, err := logging.New(&bytes.Buffer{}, "svc", "xml", "info")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"xml"`)

	_, err = logging.New(&bytes.Buffer{}, "svc", "json", "verbose")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"verbose"`)
}

func TestNop(t *testing.T) {
	assert.NoError(t, logging.Nop().Log("msg", "dropped"))
}

func TestObserverLogsAndCountsACall(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "svc", "logfmt", "debug")
	require.NoError(t, err)
	reg := metrics.NewRegistry()
	o := logging.Observer{Logger: logger, Metrics: metrics.NewMethod(reg, "svc")}

	call := func() (err error) {
		defer o.Done(context.Background(), "Fail", time.Now(), &err)
		return errors.New("boom")
	}
	require.Error(t, call())

	assert.Contains(t, buf.String(), "method=Fail")
	assert.Contains(t, buf.String(), "err=boom", "the deferred Done sees the error the call returns")
	n, err := testutil.GatherAndCount(reg, "medisync_svc_method_calls_total")
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}
