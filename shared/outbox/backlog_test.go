package outbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// away is a broker that is down: every publish fails.
type away struct{}

func (away) Publish(context.Context, events.Event) error { return errors.New("broker away") }

// TestBacklogGaugeRisesWhileTheBrokerIsDown: medisync_outbox_backlog is
// what deploy/prometheus/rules.yml alerts on (MedisyncOutboxBacklogGrowing,
// "the relay cannot publish (broker down, relay stuck)") and what the
// events dashboard draws. While the broker is away the relay keeps running
// and the outbox fills: the gauge must show it.
func TestBacklogGaugeRisesWhileTheBrokerIsDown(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		reg := prometheus.NewRegistry()
		r := outbox.NewRelay(db, away{}, outbox.RelayOptions{
			Registerer: reg, Interval: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); _ = r.Run(ctx) }()
		defer func() { cancel(); <-stopped }()

		time.Sleep(300 * time.Millisecond) // the relay idles: the broker was up, nothing to publish
		write(t, db, "auth", 150)          // the broker goes down; requests go on
		backlog, err := r.Backlog(context.Background())
		require.NoError(t, err)
		require.Equal(t, 150, backlog, "the events wait in the outbox")

		deadline := time.Now().Add(3 * time.Second)
		var gauge float64
		for time.Now().Before(deadline) {
			gauge = gaugeValue(t, reg)
			if gauge == 150 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("after 3 s of a broker outage medisync_outbox_backlog = %v while %d events wait: the alert and the dashboard see no backlog", gauge, backlog)
	})
}

func gaugeValue(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "medisync_outbox_backlog" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("medisync_outbox_backlog not registered")
	return 0
}
