// Command gateway is medisync's single entry point for clients: it routes
// /api/v1/... to the services found through discovery, checks access tokens
// at the edge, limits request rates, balances over healthy instances with a
// circuit breaker per instance, and answers faults as problem documents.
package main

import (
	"context"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/medisync/medisync/gateway/wire"
	"github.com/medisync/medisync/shared/app"
)

// gcPercent is the gateway's GC target unless GOGC says otherwise: a proxy
// keeps little live memory but allocates for every request, so the default
// (100) collects very often; 400 trades a few megabytes for about a tenth
// more requests per second.
const gcPercent = 400

func main() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(gcPercent)
	}
	logs := newLogWriter(os.Stderr, 64<<10, 100*time.Millisecond)
	app.Main("gateway", func(ctx context.Context, args []string) error {
		defer logs.Close()
		return run(ctx, args, os.LookupEnv, logs)
	})
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), stderr io.Writer) error {
	var s wire.Settings
	a, err := app.New(ctx, wire.Options(&s), args, lookup, stderr)
	if err != nil {
		return err
	}
	s.AccessLog = stderr
	h, closers, err := wire.Build(ctx, a, s)
	if err != nil {
		_ = a.Close()
		return err
	}
	return a.Run(ctx, h, closers...)
}
