// Package logging sets up go-kit/log loggers: logfmt or JSON lines with ts,
// level, service and caller, and the request ID of the context. The keys are
// catalogued in docs/logging.md.
package logging

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"go.opentelemetry.io/otel/trace"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/requestid"
)

// New returns a logger writing to w in format ("logfmt" or "json") that drops
// lines below lvl ("debug", "info", "warn", "error").
func New(w io.Writer, service, format, lvl string) (log.Logger, error) {
	var logger log.Logger
	switch strings.ToLower(format) {
	case "", "logfmt":
		logger = log.NewLogfmtLogger(log.NewSyncWriter(w))
	case "json":
		logger = log.NewJSONLogger(log.NewSyncWriter(w))
	default:
		return nil, fmt.Errorf("log format %q: want logfmt or json", format)
	}
	var opt level.Option
	switch strings.ToLower(lvl) {
	case "debug":
		opt = level.AllowDebug()
	case "", "info":
		opt = level.AllowInfo()
	case "warn":
		opt = level.AllowWarn()
	case "error":
		opt = level.AllowError()
	default:
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", lvl)
	}
	logger = level.NewFilter(uniqueKeys{logger}, opt)
	logger = log.With(logger, KeyTime, log.DefaultTimestampUTC, KeyService, service, KeyCaller, log.DefaultCaller)
	return logger, nil
}

// The keys every pipeline may rely on (docs/logging.md).
const (
	KeyTime      = "ts"         // RFC 3339 UTC instant
	KeyLevel     = "level"      // debug, info, warn, error
	KeyService   = "service"    // the service that wrote the line, never another
	KeyCaller    = "caller"     // file:line of the call
	KeyMsg       = "msg"        // what happened, a fixed text
	KeyRequestID = "requestId"  // X-Request-ID of the request being served
	KeyTraceID   = "traceId"    // W3C trace id of the span the line belongs to
	KeySpanID    = "spanId"     // W3C span id of that span
	KeyDuration  = "durationMs" // how long the line's work took: milliseconds, a number (other durations are <name>Ms)
	KeyPeer      = "peer"       // another service a line is about (an upstream, a registered instance)
	KeyErr       = "err"        // the cause of a fault
)

// Millis is d as the number that KeyDuration holds: milliseconds with
// microsecond precision, so that pipelines sum and compare them as numbers.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// uniqueKeys keeps every key of a line unique. A JSON line is an object, so a
// repeated key would silently replace the first (a line about an upstream
// logged with "service" would claim to come from it); a repeated "service"
// is therefore written as "peer", any other repeat as "<key>2", "<key>3"...
type uniqueKeys struct{ next log.Logger }

func (u uniqueKeys) Log(keyvals ...any) error {
	seen := make(map[string]int, len(keyvals)/2)
	var out []any
	for i := 0; i+1 < len(keyvals); i += 2 {
		k, ok := keyvals[i].(string)
		if !ok {
			continue
		}
		seen[k]++
		if seen[k] == 1 {
			continue
		}
		if out == nil {
			out = append([]any(nil), keyvals...)
		}
		if k == KeyService && seen[KeyPeer] == 0 {
			seen[KeyPeer]++
			out[i] = KeyPeer
			continue
		}
		out[i] = fmt.Sprintf("%s%d", k, seen[k])
	}
	if out == nil {
		return u.next.Log(keyvals...)
	}
	return u.next.Log(out...)
}

// Nop returns a logger that discards everything, for tests.
func Nop() log.Logger { return log.NewNopLogger() }

// FromContext adds the context's request ID to logger, and the trace and
// span ids of the span the context holds (tracing on, or a trace continued
// from an event).
func FromContext(ctx context.Context, logger log.Logger) log.Logger {
	if id := requestid.From(ctx); id != "" {
		logger = log.With(logger, KeyRequestID, id)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		logger = log.With(logger, KeyTraceID, sc.TraceID().String(), KeySpanID, sc.SpanID().String())
	}
	return logger
}

// Call logs one service method call, the one rule every logging decorator
// follows: a fault at error level with its cause; a success or an expected
// refusal (domainerr.Expected: not found, invalid input...) at debug, with
// its kind only, since the access log already records every request at info.
// Arguments and results are never logged: they hold personal data.
func Call(ctx context.Context, logger log.Logger, method string, begin time.Time, err error) {
	lg := log.With(FromContext(ctx, logger), KeyMsg, "call", "method", method, KeyDuration, Millis(time.Since(begin)))
	switch {
	case err == nil:
		_ = level.Debug(lg).Log("outcome", "ok")
	case domainerr.Expected(err):
		_ = level.Debug(lg).Log("outcome", "refused", "kind", domainerr.KindOf(err).Error())
	case ctx.Err() != nil:
		_ = level.Debug(lg).Log("outcome", "abandoned")
	default:
		_ = level.Error(lg).Log("outcome", "fault", KeyErr, err)
	}
}

// Observer is what a service decorator does at the end of every call: log
// it by Call and count it by metrics.Method.Observe, so that one decorator
// per service does both.
type Observer struct {
	Logger  log.Logger
	Metrics metrics.Method
}

// Done ends a call of method that began at begin. A decorator defers it
// with a pointer to its named error result, so that it sees the error the
// call returns.
func (o Observer) Done(ctx context.Context, method string, begin time.Time, err *error) {
	Call(ctx, o.Logger, method, begin, *err)
	o.Metrics.Observe(method, begin, *err)
}
