package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/medisync/medisync/shared/buildinfo"
	"github.com/medisync/medisync/shared/config"
)

// ErrDone ends a command that did what it was asked without serving:
// -version printed the build, or -healthcheck found the service ready.
// ExitCode turns it into status 0.
var ErrDone = errors.New("done")

// HealthcheckTimeout bounds the whole -healthcheck call.
const HealthcheckTimeout = 3 * time.Second

// modes are the one-shot flags every service binary has. Images without a
// shell run "<binary> -healthcheck" as their health check.
type modes struct {
	version, healthcheck bool
}

func registerModes(fs *flag.FlagSet) *modes {
	m := &modes{}
	fs.BoolVar(&m.version, "version", false, "print the version, commit and build date, then exit")
	fs.BoolVar(&m.healthcheck, "healthcheck", false, "ask the instance on -http-addr for /health/ready, then exit 0 when ready, 1 otherwise")
	return m
}

// hide keeps the modes out of the environment: only the command line asks
// for one, so that a MEDISYNC_HEALTHCHECK variable left in an environment
// cannot stop a service from serving.
func (m *modes) hide(lookup func(string) (string, bool)) func(string) (string, bool) {
	if lookup == nil {
		return nil
	}
	return func(k string) (string, bool) {
		if k == config.EnvName("version") || k == config.EnvName("healthcheck") {
			return "", false
		}
		return lookup(k)
	}
}

// run performs the mode asked for, returning ErrDone on success; nil means
// serve.
func (m *modes) run(ctx context.Context, name, httpAddr string, out io.Writer) error {
	switch {
	case m.version:
		fmt.Fprintln(out, buildinfo.Get().String(name))
		return ErrDone
	case m.healthcheck:
		if err := Healthcheck(ctx, httpAddr); err != nil {
			return err
		}
		return ErrDone
	}
	return nil
}

// Healthcheck asks the instance listening on addr (an -http-addr value such
// as ":8081") whether it is ready; a wildcard or empty host means this
// machine.
func Healthcheck(ctx context.Context, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: -http-addr %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, HealthcheckTimeout)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/health/ready"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: not ready", url, resp.StatusCode)
	}
	return nil
}

// build is the build an instance advertises in discovery: the version and
// the short commit.
func build() string {
	i := buildinfo.Get()
	return i.Version + " " + i.ShortCommit()
}
