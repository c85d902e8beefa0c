package appdb

import (
	"context"
	"fmt"
	"net/http"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/server"
)

// openBroker connects to -broker-url. Without one (development), the
// broker is broker.Disabled: the relay does not run and events wait in the
// outbox until the service starts with a broker. Readiness never depends on
// the broker: a service serves while it is away, its events waiting in the
// outbox (medisync_outbox_backlog, and its alert, tell), and an instance
// that is not ready leaves the rotation, so a broker down for every
// instance must not take them all out. A broker that is down at start is
// retried in the background (NATS).
func (a *App) openBroker(ctx context.Context, withOutbox bool) error {
	if a.brokerURL == "" {
		a.Broker = broker.Disabled{}
		if withOutbox {
			_ = level.Warn(a.Logger).Log("msg", "no -broker-url: events wait in the outbox, unpublished, until the service starts with one")
		}
		return nil
	}
	b, err := broker.Open(ctx, a.brokerURL, broker.Options{Logger: a.Logger, Registerer: a.Registry, Tracing: a.Tracing})
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	a.Broker = b
	a.OnClose(b.Close)
	_ = level.Info(a.Logger).Log("msg", "broker configured", "url", broker.Redact(a.brokerURL))
	if withOutbox && a.DB != nil {
		a.Relay = outbox.NewRelay(a.DB, b, outbox.RelayOptions{Logger: a.Logger, Registerer: a.Registry})
	}
	return nil
}

// Run is app.Run with the outbox relay publishing while the service serves.
// The relay stops after the closers, just before the database and the
// broker close: the requests have drained and the closers have stopped the
// service's own work (event consumers, background passes), so the events
// the last requests and the last events applied wrote still go out.
func (a *App) Run(ctx context.Context, h http.Handler, closers ...server.Hook) error {
	if a.Relay == nil {
		return a.App.Run(ctx, h, closers...)
	}
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); _ = a.Relay.Run(relayCtx) }()
	stop := func(ctx context.Context) error {
		// The relay's last passes end with this hook's budget: closing the
		// database after it would otherwise wait for their transaction.
		if deadline, ok := ctx.Deadline(); ok {
			a.Relay.StopBy(deadline)
		}
		stopRelay()
		select {
		case <-relayDone:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("outbox relay: %w", ctx.Err())
		}
	}
	return a.App.Run(ctx, h, append(closers[:len(closers):len(closers)], stop)...)
}
