// Command appointment books, reschedules and cancels doctors' slots for
// patients, and never books one time twice (see ../../README.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	// Doctors' IANA zones load on minimal images without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/appointment/adapter/peer"
	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/endpoint"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/dlqhttp"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/inbox"
	"github.com/medisync/medisync/shared/metrics"
)

func main() { app.Main("appointment", run) }

// consumerName is the service's durable consumer on the broker; its dead
// letters go to medisync.dlq.appointment.
const consumerName = "appointment"

func run(ctx context.Context, args []string) error {
	var (
		doctorURL, patientURL string
		peerTimeout           time.Duration
		notice, keyRetention  time.Duration
		maxActive             int
		eventWorkers          int
		audit                 auditlog.Options
	)
	a, err := appdb.New(ctx, app.Options{
		Name:         "appointment",
		DefaultAddr:  ":8084",
		DefaultDSN:   "sqlite:data/appointment.db",
		Migrations:   sqlstore.Migrations(),
		MaxBodyBytes: transport.MaxBodyBytes,
		// Every change writes its event to the outbox; the relay publishes them.
		Outbox: true,
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&doctorURL, "doctor-url", "http://doctor", "the doctor service (through discovery by default)")
			fs.StringVar(&patientURL, "patient-url", "http://patient", "the patient service (through discovery by default)")
			fs.DurationVar(&peerTimeout, "peer-timeout", 2*time.Second, "bound on one call to the doctor or patient service")
			fs.DurationVar(&notice, "cancel-notice", service.DefaultCancelNotice, "a patient may not cancel or move an appointment starting sooner than this (0: until it starts)")
			fs.DurationVar(&keyRetention, "idempotency-retention", service.DefaultKeyRetention, "how long an Idempotency-Key answers retries (more than zero)")
			fs.IntVar(&maxActive, "max-active-per-patient", service.DefaultMaxActivePerPatient, "most appointments a patient holds that have not ended (an administrator may book past it)")
			fs.IntVar(&eventWorkers, "event-workers", 4, "events an instance applies at once")
			fs.IntVar(&audit.MaxBatch, "audit-max-batch", 256, "most audit events written in one INSERT")
			fs.IntVar(&audit.Writers, "audit-writers", 2, "concurrent audit INSERTs")
		},
	}, args, os.LookupEnv, os.Stderr)
	if err != nil {
		return err
	}
	// A negative notice would let a patient cancel after the start, and a
	// key kept no time would answer no retry: both are mistakes, refused
	// rather than read as something else.
	if notice < 0 {
		_ = a.Close()
		return fmt.Errorf("-cancel-notice must be zero (no notice) or more, not %s", notice)
	}
	if keyRetention <= 0 {
		_ = a.Close()
		return fmt.Errorf("-idempotency-retention must be more than zero, not %s", keyRetention)
	}
	if maxActive < 1 {
		_ = a.Close()
		return fmt.Errorf("-max-active-per-patient must be at least 1, not %d", maxActive)
	}
	if eventWorkers < 1 || eventWorkers > 64 {
		_ = a.Close()
		return fmt.Errorf("-event-workers must be from 1 to 64, not %d", eventWorkers)
	}
	verifier, err := a.Verifier(ctx)
	if err != nil {
		_ = a.Close()
		return err
	}

	store := sqlstore.New(a.DB)
	doctors := peer.NewDoctors(a.HTTPClient, peer.Options{BaseURL: doctorURL, Timeout: peerTimeout})
	patients := peer.NewPatients(a.HTTPClient, peer.Options{BaseURL: patientURL, Timeout: peerTimeout})
	// Reads and refusals record their audit events with group commit, each
	// stored before its request is answered.
	recorder := auditlog.New[appointment.AuditEvent](store, audit)
	var svc service.Service = service.New(store, doctors, patients, clock.System{}, ids.New,
		service.Options{CancelNotice: notice, KeyRetention: keyRetention, MaxActivePerPatient: maxActive, Logger: a.Logger,
			Audit: recorder})
	svc = service.Middleware(a.Logger, metrics.NewMethod(a.Registry, "appointment"))(svc)

	// Idempotency keys answer retries for keyRetention, then go.
	go clock.Every(ctx, 10*time.Minute, func() {
		if _, err := store.PurgeKeys(ctx, time.Now().Add(-keyRetention)); err != nil && ctx.Err() == nil {
			_ = level.Warn(a.Logger).Log("msg", "purge idempotency keys", "err", err)
		}
	})
	// The claims of consumed events outlive every redelivery, then go.
	go clock.Every(ctx, time.Hour, func() {
		n, err := store.PurgeInbox(ctx, time.Now().Add(-inbox.Retention))
		if err != nil && ctx.Err() == nil {
			_ = level.Warn(a.Logger).Log("msg", "purge inbox", "err", err)
		} else if n > 0 {
			_ = level.Info(a.Logger).Log("msg", "purged inbox claims", "count", n)
		}
	})
	// Waits for days that have passed no longer count nor show; they go
	// too, hourly since days pass only daily.
	go clock.Every(ctx, time.Hour, func() {
		if _, err := store.PurgeWaitlist(ctx, service.WaitsPassedBefore(time.Now())); err != nil && ctx.Err() == nil {
			_ = level.Warn(a.Logger).Log("msg", "purge waitlist", "err", err)
		}
	})

	router := a.Router()
	// The dead-letter routes first: their paths have more segments than
	// /api/v1/appointments/{id}, so neither set can take the other's
	// requests, whatever the order.
	dlqhttp.Register(router, "/api/v1/appointments/admin", a.Broker.DeadLetters(consumerName), verifier)
	transport.Register(router, endpoint.New(svc), verifier, a.Logger)

	// Events (records.encounter_signed, patient.deactivated and
	// patient.reactivated), on a context that ends after the
	// requests drain, not with the signal that starts it (app.Work).
	// Without -broker-url the broker is disabled and nothing arrives.
	work := app.NewWork(ctx)
	work.Go(func(ctx context.Context) {
		sub := broker.Subscriber{B: a.Broker, Concurrency: eventWorkers, Malformed: service.ErrMalformed}
		if err := sub.Subscribe(ctx, consumerName, service.Topics, svc.HandleEvent); err != nil {
			_ = level.Error(a.Logger).Log("msg", "event consumer stopped", "err", err)
		}
	})

	_ = level.Info(a.Logger).Log("msg", "starting", "addr", a.Config.HTTPAddr, "dialect", a.DB.Dialect)
	// After the drain no request is in flight: stop the consumer within the
	// budget, then flush the audit events still queued; the app closes the
	// database last.
	return a.Run(ctx, a.Handler(router), work.Stop, recorder.Close)
}
