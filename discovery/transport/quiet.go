package transport

import (
	"net/http"
	"strings"

	"github.com/go-kit/log"
)

// SplitHeartbeats sends heartbeat requests to heartbeats and everything else
// to rest; both usually wrap the same router.
func SplitHeartbeats(heartbeats, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/heartbeat") {
			heartbeats.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}

// QuietHeartbeats wraps the access logger so that successful heartbeats,
// which every instance sends every few seconds, do not flood the log; they
// still count in the HTTP metrics. With verbose set everything passes.
func QuietHeartbeats(logger log.Logger, verbose bool) log.Logger {
	if verbose {
		return logger
	}
	return log.LoggerFunc(func(kv ...any) error {
		var route bool
		status := 0
		for i := 0; i+1 < len(kv); i += 2 {
			switch kv[i] {
			case "route":
				route = kv[i+1] == RouteHeartbeat
			case "status":
				status, _ = kv[i+1].(int)
			}
		}
		if route && status > 0 && status < 400 {
			return nil
		}
		return logger.Log(kv...)
	})
}
