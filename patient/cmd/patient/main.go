// Command patient serves patient profiles, medical history and the audit
// trail of access to them (see ../../README.md).
package main

import (
	"context"
	"flag"
	"os"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/patient/adapter/caredir"
	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/endpoint"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/patient/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/metrics"
)

func main() { app.Main("patient", run) }

func run(ctx context.Context, args []string) error {
	var (
		audit      auditlog.Options
		recordsURL string
	)
	a, err := appdb.New(ctx, app.Options{
		Name:         "patient",
		DefaultAddr:  ":8083",
		DefaultDSN:   "sqlite:data/patient.db",
		Migrations:   sqlstore.Migrations(),
		MaxBodyBytes: transport.MaxBodyBytes,
		// A record's deactivation or reactivation goes to the outbox; the
		// relay publishes it (-broker-url; without one the events wait).
		Outbox: true,
		Flags: func(fs *flag.FlagSet) {
			fs.IntVar(&audit.MaxBatch, "audit-max-batch", 256, "most audit events written in one INSERT")
			fs.IntVar(&audit.Writers, "audit-writers", 2, "concurrent audit INSERTs")
			fs.StringVar(&recordsURL, "records-url", "http://records", "the records service, which says whether a doctor treats a patient, by discovery name or address")
		},
	}, args, os.LookupEnv, os.Stderr)
	if err != nil {
		return err
	}
	verifier, err := a.Verifier(ctx)
	if err != nil {
		_ = a.Close()
		return err
	}

	store := sqlstore.New(a.DB)
	recorder := auditlog.New[patient.AuditEvent](store, audit)
	var svc service.Service = service.New(service.Deps{
		Patients: store, History: store, Audit: store, Recorder: recorder,
		Clock: clock.System{}, Care: caredir.New(a.HTTPClient, caredir.Options(recordsURL)),
	})
	svc = service.Middleware(a.Logger, metrics.NewMethod(a.Registry, "patient"))(svc)

	router := a.Router()
	transport.Register(router, endpoint.New(svc), verifier)
	_ = level.Info(a.Logger).Log("msg", "starting", "addr", a.Config.HTTPAddr, "dialect", a.DB.Dialect)
	// After the drain no request is in flight: flush the audit events still
	// queued, then release the statements; the app closes the database last.
	return a.Run(ctx, a.Handler(router), recorder.Close, func(context.Context) error { return store.Close() })
}
