// Command auth runs the medisync auth service: accounts, roles, access and
// refresh tokens, and the JWKS every other service verifies tokens with.
//
//	auth [flags]                  serve (the default; also "auth serve")
//	auth rotate-key [flags]       make a new signing key; the old one stays
//	                              published until the tokens it signed expire
//
// Every flag has a MEDISYNC_* environment variable of the same meaning.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/transport"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
)

func main() {
	app.Main("auth", func(ctx context.Context, args []string) error {
		return run(ctx, args, os.LookupEnv, os.Stdout, os.Stderr)
	})
}

func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, lookup, stderr)
	case "rotate-key":
		return rotateKey(ctx, args, lookup, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q (want serve or rotate-key)", cmd)
	}
}

func options(flags func(*flag.FlagSet)) app.Options {
	return app.Options{
		Name: "auth", DefaultAddr: ":8081", DefaultDSN: "sqlite:data/auth.db",
		Migrations: sqlstore.Migrations(), MaxBodyBytes: transport.MaxBodyBytes, Flags: flags,
		Outbox: true,
	}
}

func serve(ctx context.Context, args []string, lookup func(string) (string, bool), stderr io.Writer) error {
	flags := wire.NewFlags()
	a, err := appdb.New(ctx, options(flags.Register), args, lookup, stderr)
	if err != nil {
		return err
	}
	cfg, err := flags.Config()
	if err != nil {
		_ = a.Close()
		return fmt.Errorf("configuration: %w", err)
	}
	auth, err := wire.Build(ctx, a.DB, cfg, a.Logger, a.Registry)
	if err != nil {
		_ = a.Close()
		return err
	}
	if a.Relay != nil {
		// Events go out as soon as their change commits, not at the relay's next poll.
		auth.Store.AfterEvents(a.Relay.Notify)
	}
	stopAuth, err := auth.Start(ctx)
	if err != nil {
		_ = a.Close()
		return err
	}
	router := a.Router()
	auth.Routes(router)
	return a.Run(ctx, a.Handler(router), stopAuth)
}

func rotateKey(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	flags := wire.NewFlags()
	var (
		r  wire.Rotation
		fs *flag.FlagSet
	)
	a, err := appdb.New(ctx, options(func(f *flag.FlagSet) {
		fs = f
		flags.RegisterKeys(f)
		f.DurationVar(&r.ActivateIn, "activate-in", wire.DefaultConfig().MinKeyActivation(),
			"delay before the new key starts signing (it is published at once); at least twice -key-reload-interval, so that every instance publishes it first")
		f.BoolVar(&r.Now, "activate-now", false,
			"sign with the new key at once: for a single instance, or a key that must stop signing now (instances that have not reloaded refuse its tokens until they do)")
	}), append([]string{"-discovery-urls", ""}, args...), lookup, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if r.Now && isSet(fs, "activate-in") {
		return errors.New("-activate-now and -activate-in contradict each other: give one")
	}
	cfg, err := flags.Config()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	k, published, err := wire.RotateKey(ctx, a.DB, cfg, r)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new signing key %s signs from %s; published keys: %s\n",
		k.KID, k.ActivatesAt.Format(time.RFC3339), strings.Join(published, ", "))
	return nil
}

// isSet tells whether the flag name was given, on the command line or
// through its environment variable.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
