package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/httpmw"
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

// decodeLines parses each JSON line of buf.
func decodeLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(l), &m), l)
		out = append(out, m)
	}
	return out
}

func keysOf(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The access line is what a log pipeline indexes most: its keys and their
// types are a contract (docs/logging.md), not an accident of the code.
func TestRequestLineHasStableKeys(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "doctor", "json", "info")
	require.NoError(t, err)
	router := httpmw.NewRouter()
	router.HandleFunc("/api/v1/doctors/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("{}"))
	})
	h := httpmw.Stack(router, httpmw.Options{Logger: logger})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/doctors/d-1?email=x", nil)
	req.Header.Set(requestid.Header, "rid-1")

	h.ServeHTTP(httptest.NewRecorder(), req)

	lines := decodeLines(t, &buf)
	require.Len(t, lines, 1)
	line := lines[0]
	assert.Equal(t, []string{
		"bytes", "caller", logging.KeyDuration, "level", "method", "msg", "path", logging.KeyRequestID,
		"route", "service", "status", "ts",
	}, keysOf(line))
	assert.Equal(t, "doctor", line[logging.KeyService])
	assert.Equal(t, "info", line[logging.KeyLevel])
	assert.Equal(t, "request", line[logging.KeyMsg])
	assert.Equal(t, "rid-1", line[logging.KeyRequestID])
	assert.Equal(t, "GET", line["method"])
	assert.Equal(t, "/api/v1/doctors/{id}", line["route"])
	assert.Equal(t, "/api/v1/doctors/d-1", line["path"])
	assert.EqualValues(t, 200, line["status"])
	assert.EqualValues(t, 2, line["bytes"])
	assert.IsType(t, float64(0), line[logging.KeyDuration], "a duration is a number of milliseconds")
	assert.Regexp(t, `^httpmw\.go:\d+$`, line[logging.KeyCaller])
}

func TestCallLineHasStableKeys(t *testing.T) {
	var buf bytes.Buffer
	logger, err := logging.New(&buf, "patient", "json", "debug")
	require.NoError(t, err)
	ctx := requestid.With(context.Background(), "rid-2")

	logging.Call(ctx, logger, "GetPatient", time.Now().Add(-1500*time.Microsecond), nil)
	logging.Call(ctx, logger, "GetPatient", time.Now(), errors.New("db down"))

	lines := decodeLines(t, &buf)
	require.Len(t, lines, 2)
	assert.Equal(t, []string{"caller", logging.KeyDuration, "level", "method", "msg", "outcome", logging.KeyRequestID, "service", "ts"}, keysOf(lines[0]))
	assert.Equal(t, "call", lines[0][logging.KeyMsg])
	assert.Equal(t, "ok", lines[0]["outcome"])
	assert.GreaterOrEqual(t, lines[0][logging.KeyDuration], 1.5)
	assert.Equal(t, "fault", lines[1]["outcome"])
	assert.Equal(t, "db down", lines[1][logging.KeyErr])
	assert.Equal(t, "error", lines[1][logging.KeyLevel])
}

func TestNoKeyIsOverwritten(t *testing.T) {
	for _, format := range []string{"json", "logfmt"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			logger, err := logging.New(&buf, "gateway", format, "info")
			require.NoError(t, err)

			// A line about an upstream that names it by the common key.
			require.NoError(t, level.Warn(logger).Log("msg", "upstream down", "service", "auth", "n", 1, "n", 2, "n", 3))

			if format == "logfmt" {
				line := buf.String()
				assert.Equal(t, 1, strings.Count(line, " service="), line)
				assert.Contains(t, line, " service=gateway ")
				assert.Contains(t, line, " peer=auth ")
				assert.Contains(t, line, " n=1 n2=2 n3=3")
				return
			}
			line := decodeLines(t, &buf)[0]
			assert.Equal(t, "gateway", line[logging.KeyService], "the writer's name is never replaced")
			assert.Equal(t, "auth", line[logging.KeyPeer])
			assert.EqualValues(t, 1, line["n"])
			assert.EqualValues(t, 2, line["n2"])
			assert.EqualValues(t, 3, line["n3"])
		})
	}
}

func TestMillis(t *testing.T) {
	assert.Equal(t, 1.5, logging.Millis(1500*time.Microsecond))
	assert.Equal(t, 2000.0, logging.Millis(2*time.Second))
}
