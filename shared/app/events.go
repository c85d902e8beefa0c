package app

import (
	"context"
	"fmt"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/outbox"
)

// openBroker connects to -broker-url. Without one (development), the
// broker is broker.Disabled: the relay does not run, events wait in the
// outbox until the service starts with a broker, and readiness does not
// depend on it. With one, readiness reports it; a broker that is down at
// start is retried in the background (NATS), the outbox keeping the events.
func (a *App) openBroker(ctx context.Context) error {
	if a.brokerURL == "" {
		a.Broker = broker.Disabled{}
		if a.opts.Outbox {
			_ = level.Warn(a.Logger).Log("msg", "no -broker-url: events wait in the outbox, unpublished, until the service starts with one")
		}
		return nil
	}
	b, err := broker.Open(ctx, a.brokerURL, broker.Options{Logger: a.Logger, Registerer: a.Registry})
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	a.Broker = b
	a.Health.Add("broker", b.Ping)
	_ = level.Info(a.Logger).Log("msg", "broker configured", "url", broker.Redact(a.brokerURL))
	if a.opts.Outbox && a.DB != nil {
		a.Relay = outbox.NewRelay(a.DB, b, outbox.RelayOptions{Logger: a.Logger, Registerer: a.Registry})
	}
	return nil
}
