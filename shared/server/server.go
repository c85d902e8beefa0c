// Package server runs an HTTP server with timeouts and shuts it down
// gracefully: readiness fails first, then the instance deregisters, in-flight
// requests drain, and finally resources such as the database close.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/shared/requestid"
)

// NewHTTPServer returns a server with every timeout set, so a slow or idle
// client cannot hold a connection forever.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		// The hard ceiling, above httpmw's 64 KiB limit that answers with a
		// problem; only a client past this one gets Go's plain-text 431.
		MaxHeaderBytes: 1 << 20,
	}
}

// NewHTTPClient returns a client for calls between services: a total timeout,
// pooled keep-alive connections, and the request ID passed on.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return NewHTTPClientOver(timeout, NewTransport())
}

// NewHTTPClientOver is NewHTTPClient over a transport the caller tuned.
func NewHTTPClientOver(timeout time.Duration, tr *http.Transport) *http.Client {
	return &http.Client{
		Timeout:   timeout,
		Transport: requestid.Transport{Base: tr},
	}
}

// NewTransport returns a transport tuned for many requests to few hosts.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// Hook is a step of the shutdown sequence.
type Hook func(ctx context.Context) error

// Runner serves one HTTP server until its context ends, then shuts down.
type Runner struct {
	Server *http.Server
	Logger log.Logger
	// Listener, when set, is served instead of listening on Server.Addr.
	Listener net.Listener
	// ShutdownTimeout bounds the whole shutdown; 0 means 15 s.
	ShutdownTimeout time.Duration
	// BeforeDrain runs once the context ends and before the server stops
	// accepting: mark not ready, deregister from discovery.
	BeforeDrain []Hook
	// AfterDrain runs once in-flight requests are done: close the database.
	AfterDrain []Hook
	// Started, when set, is called with the bound address once listening.
	Started func(addr net.Addr)
}

// Run serves until ctx is done (a signal, typically) or the server fails.
func (r *Runner) Run(ctx context.Context) error {
	logger := r.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	ln := r.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", r.Server.Addr)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", r.Server.Addr, err)
		}
	}
	if r.Started != nil {
		r.Started(ln.Addr())
	}
	_ = level.Info(logger).Log("msg", "listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- r.Server.Serve(ln) }()

	var serveErr error
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("serve: %w", err)
		}
	case <-ctx.Done():
	}

	timeout := r.ShutdownTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_ = level.Info(logger).Log("msg", "shutting down")
	var errs []error
	for _, h := range r.BeforeDrain {
		if err := h(sctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.Server.Shutdown(sctx); err != nil {
		errs = append(errs, fmt.Errorf("drain: %w", err))
		// Requests still running past the deadline are cut off, so the
		// resources closed next are no longer in use.
		_ = r.Server.Close()
	}
	for _, h := range r.AfterDrain {
		if err := within(sctx, h); err != nil {
			errs = append(errs, err)
		}
	}
	if serveErr != nil {
		errs = append([]error{serveErr}, errs...)
	}
	err := errors.Join(errs...)
	if err != nil {
		_ = level.Error(logger).Log("msg", "shutdown finished with errors", "err", err)
	} else {
		_ = level.Info(logger).Log("msg", "stopped")
	}
	return err
}

// abandonGrace is how long a hook still gets once the budget is spent, so
// that hooks with nothing left to wait for (a flush of an empty queue) run.
const abandonGrace = 100 * time.Millisecond

// within runs h, waiting for it no longer than ctx allows: a hook stuck on
// a hung dependency (closing pgx's statements waits 5 s per pooled
// connection on a PostgreSQL that does not answer) must not hold the
// process past its budget. What it had left to do ends with the process.
func within(ctx context.Context, h Hook) error {
	done := make(chan error, 1)
	go func() { done <- h(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	select {
	case err := <-done:
		return err
	case <-time.After(abandonGrace):
		return fmt.Errorf("a shutdown hook was left running past the budget: %w", ctx.Err())
	}
}
