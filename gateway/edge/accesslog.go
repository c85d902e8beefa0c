package edge

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

type logLevel int

const (
	levelDebug logLevel = iota
	levelInfo
	levelWarn
	levelError
)

var levelNames = [...]string{"debug", "info", "warn", "error"}

// accessLog writes the access-log line of each request in the format of
// shared/logging (logfmt or JSON; ts, level, service, caller, requestId,
// msg, method, route, path, status, bytes, durationMs, and traceId and
// spanId when the request has a span), encoded by hand into a
// pooled buffer: the general-purpose encoder boxes every value, looks up
// its caller's file and line, and was a tenth of the gateway's CPU time.
type accessLog struct {
	mu      sync.Mutex
	w       io.Writer
	json    bool
	min     logLevel
	service string
	// caller is the caller key's value, encoded for the format: one call
	// site writes every line, so its file and line are looked up once.
	caller atomic.Pointer[[]byte]
	bufs   sync.Pool
}

func newAccessLog(w io.Writer, service, format, lvl string) (*accessLog, error) {
	a := &accessLog{w: w, service: service}
	switch strings.ToLower(format) {
	case "", "logfmt":
	case "json":
		a.json = true
	default:
		return nil, fmt.Errorf("log format %q: want logfmt or json", format)
	}
	switch strings.ToLower(lvl) {
	case "debug":
		a.min = levelDebug
	case "", "info":
		a.min = levelInfo
	case "warn":
		a.min = levelWarn
	case "error":
		a.min = levelError
	default:
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", lvl)
	}
	a.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return a, nil
}

func (a *accessLog) write(ts time.Time, lvl logLevel, id, method, route, path string, status int, bytes int64, elapsed time.Duration, traceID, spanID string) {
	if lvl < a.min {
		return
	}
	caller := a.caller.Load()
	if caller == nil {
		caller = a.lookUpCaller()
	}
	bp := a.bufs.Get().(*[]byte)
	b := (*bp)[:0]
	ms := float64(elapsed.Microseconds()) / 1000
	if a.json {
		b = append(b, `{"ts":"`...)
		b = ts.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"`...)
		b = append(b, levelNames[lvl]...)
		b = append(b, `","service":`...)
		b = appendJSONString(b, a.service)
		b = append(b, `,"caller":`...)
		b = append(b, *caller...)
		b = append(b, `,"requestId":`...)
		b = appendJSONString(b, id)
		b = append(b, `,"msg":"request","method":`...)
		b = appendJSONString(b, method)
		b = append(b, `,"route":`...)
		b = appendJSONString(b, route)
		b = append(b, `,"path":`...)
		b = appendJSONString(b, path)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, `,"bytes":`...)
		b = strconv.AppendInt(b, bytes, 10)
		b = append(b, `,"durationMs":`...)
		b = strconv.AppendFloat(b, ms, 'f', -1, 64)
		if traceID != "" {
			// Hex ids: nothing to escape.
			b = append(b, `,"traceId":"`...)
			b = append(b, traceID...)
			b = append(b, `","spanId":"`...)
			b = append(b, spanID...)
			b = append(b, '"')
		}
		b = append(b, "}\n"...)
	} else {
		b = append(b, "ts="...)
		b = ts.UTC().AppendFormat(b, time.RFC3339Nano)
		b = append(b, " level="...)
		b = append(b, levelNames[lvl]...)
		b = append(b, " service="...)
		b = appendLogfmtValue(b, a.service)
		b = append(b, " caller="...)
		b = append(b, *caller...)
		b = append(b, " requestId="...)
		b = appendLogfmtValue(b, id)
		b = append(b, " msg=request method="...)
		b = appendLogfmtValue(b, method)
		b = append(b, " route="...)
		b = appendLogfmtValue(b, route)
		b = append(b, " path="...)
		b = appendLogfmtValue(b, path)
		b = append(b, " status="...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, " bytes="...)
		b = strconv.AppendInt(b, bytes, 10)
		b = append(b, " durationMs="...)
		b = strconv.AppendFloat(b, ms, 'f', -1, 64)
		if traceID != "" {
			b = append(b, " traceId="...)
			b = append(b, traceID...)
			b = append(b, " spanId="...)
			b = append(b, spanID...)
		}
		b = append(b, '\n')
	}
	a.mu.Lock()
	_, _ = a.w.Write(b)
	a.mu.Unlock()
	*bp = b
	a.bufs.Put(bp)
}

// lookUpCaller finds and keeps the caller value of the lines: the file and
// line that called write, as go-kit's log.DefaultCaller writes them on
// shared/logging's lines. Two first lines at once may both look it up;
// they find the same.
func (a *accessLog) lookUpCaller() *[]byte {
	_, file, line, ok := runtime.Caller(2) // lookUpCaller, write, its caller
	v := "unknown"
	if ok {
		v = file[strings.LastIndexByte(file, '/')+1:] + ":" + strconv.Itoa(line)
	}
	var b []byte
	if a.json {
		b = appendJSONString(nil, v)
	} else {
		b = appendLogfmtValue(nil, v)
	}
	a.caller.Store(&b)
	return &b
}

// appendLogfmtValue quotes a value as go-logfmt does: when it is empty or
// holds a space, '=', '"', a control character or invalid UTF-8.
func appendLogfmtValue(b []byte, s string) []byte {
	if s == "" || strings.ContainsFunc(s, needsQuoteRune) || !utf8.ValidString(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoteRune(r rune) bool {
	return r <= ' ' || r == '=' || r == '"' || r == 0x7f || r == utf8.RuneError || (r >= 0x80 && r < 0xa0)
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
