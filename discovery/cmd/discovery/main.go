// Command discovery runs the medisync service registry.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/discovery/internal/app"
	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/discovery/service"
	"github.com/medisync/medisync/shared/config"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "discovery:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer, lookup func(string) (string, bool)) error {
	fs := flag.NewFlagSet("discovery", flag.ContinueOnError)
	fs.SetOutput(out)
	var common config.Common
	common.Register(fs, ":8761", "")
	limits := registry.DefaultLimits()
	fs.DurationVar(&limits.DefaultTTL, "ttl-default", limits.DefaultTTL, "lease of a registration that names no TTL")
	fs.DurationVar(&limits.MinTTL, "ttl-min", limits.MinTTL, "shortest lease a registration may ask for")
	fs.DurationVar(&limits.MaxTTL, "ttl-max", limits.MaxTTL, "longest lease a registration may ask for")
	fs.IntVar(&limits.MaxInstances, "max-instances", limits.MaxInstances, "most instances held at once; 0 means no bound")
	fs.IntVar(&limits.MaxServices, "max-services", limits.MaxServices, "most service names held at once; 0 means no bound")
	reapEvery := fs.Duration("reap-every", time.Second, "pause between sweeps evicting lapsed leases")
	refresh := fs.Duration("dashboard-refresh", 5*time.Second, "how often the dashboard page reloads itself")
	if err := config.Parse(fs, args, lookup); err != nil {
		return err
	}
	if err := limits.Validate(); err != nil {
		return err
	}
	if *reapEvery <= 0 || *refresh < time.Second {
		return errors.New("reap-every must be positive and dashboard-refresh at least 1s")
	}
	logger, err := logging.New(out, "discovery", common.LogFormat, common.LogLevel)
	if err != nil {
		return err
	}

	if _, set := lookup("GOGC"); !set {
		// The registry's live heap is small (about 15 MB for 10,000
		// instances) while every heartbeat allocates a little; collecting
		// at 5× the live heap instead of 2× saves about a seventh of the
		// CPU per heartbeat for some 25 MB more memory. GOGC overrides it.
		debug.SetGCPercent(400)
	}
	a := app.New(app.Config{
		Limits: limits, Token: common.DiscoveryToken, ReapEvery: *reapEvery, DashboardRefresh: *refresh,
		Logger: logger,
	})
	if common.DiscoveryToken == "" {
		_ = level.Warn(logger).Log("msg", "no discovery token set: anyone who can reach this server may register; set MEDISYNC_DISCOVERY_TOKEN")
	}

	reapCtx, stopReaper := context.WithCancel(context.Background())
	defer stopReaper()
	go a.Reap(reapCtx)

	srv := server.NewHTTPServer(common.HTTPAddr, a.Handler)
	// Blocking queries hold a response open for up to MaxWait.
	srv.WriteTimeout = service.MaxWait + time.Minute
	runner := server.Runner{
		Server:          srv,
		Logger:          logger,
		ShutdownTimeout: common.ShutdownTimeout,
		BeforeDrain:     []server.Hook{a.BeforeDrain},
		AfterDrain:      []server.Hook{func(context.Context) error { stopReaper(); return nil }},
		Started: func(addr net.Addr) {
			_ = level.Info(logger).Log("msg", "discovery dashboard", "url", "http://"+dashboardHost(addr)+"/")
		},
	}
	return runner.Run(ctx)
}

// dashboardHost turns a listening address such as [::]:8761 into one a
// browser can open.
func dashboardHost(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
