package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Main runs a service command: run gets a context that ends on SIGINT or
// SIGTERM, and the command-line arguments. The process then exits as
// ExitCode says, so that every command answers -h and failures alike.
func Main(name string, run func(ctx context.Context, args []string) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:])
	stop()
	os.Exit(ExitCode(os.Stderr, name, err))
}

// ExitCode returns the exit status of the command called name that ended
// with err: 0 for none, for -h or -help (whose usage the flag set has
// printed) and for ErrDone (-version, a passing -healthcheck), otherwise 1
// after writing "<name>: <err>" to w.
func ExitCode(w io.Writer, name string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) || errors.Is(err, ErrDone) {
		return 0
	}
	fmt.Fprintf(w, "%s: %v\n", name, err)
	return 1
}
