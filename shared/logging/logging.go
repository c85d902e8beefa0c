// Package logging sets up go-kit/log loggers: logfmt or JSON lines with ts,
// level, service and caller, and the request ID of the context.
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
	logger = level.NewFilter(logger, opt)
	logger = log.With(logger, "ts", log.DefaultTimestampUTC, "service", service, "caller", log.DefaultCaller)
	return logger, nil
}

// Nop returns a logger that discards everything, for tests.
func Nop() log.Logger { return log.NewNopLogger() }

// FromContext adds the context's request ID to logger, and the trace and
// span ids of the span the context holds (tracing on, or a trace continued
// from an event).
func FromContext(ctx context.Context, logger log.Logger) log.Logger {
	if id := requestid.From(ctx); id != "" {
		logger = log.With(logger, "requestId", id)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		logger = log.With(logger, "trace_id", sc.TraceID().String(), "span_id", sc.SpanID().String())
	}
	return logger
}

// Call logs one service method call, the one rule every logging decorator
// follows: a fault at error level with its cause; a success or an expected
// refusal (domainerr.Expected: not found, invalid input...) at debug, with
// its kind only, since the access log already records every request at info.
// Arguments and results are never logged: they hold personal data.
func Call(ctx context.Context, logger log.Logger, method string, begin time.Time, err error) {
	lg := FromContext(ctx, logger)
	took := time.Since(begin)
	switch {
	case err == nil:
		_ = level.Debug(lg).Log("method", method, "took", took, "outcome", "ok")
	case domainerr.Expected(err):
		_ = level.Debug(lg).Log("method", method, "took", took, "outcome", "refused", "kind", domainerr.KindOf(err).Error())
	case ctx.Err() != nil:
		_ = level.Debug(lg).Log("method", method, "took", took, "outcome", "abandoned")
	default:
		_ = level.Error(lg).Log("method", method, "took", took, "err", err)
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
