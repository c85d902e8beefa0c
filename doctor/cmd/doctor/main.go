// Command doctor serves doctors' profiles, the catalog of specializations,
// availability and bookable slots (see ../../README.md).
package main

import (
	"context"
	"flag"
	"os"
	"time"

	// The time zone database is compiled in, so doctors' IANA zones load on
	// minimal images without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/adapter/taken"
	"github.com/medisync/medisync/doctor/endpoint"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/doctor/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/metrics"
)

func main() { app.Main("doctor", run) }

func run(ctx context.Context, args []string) error {
	var (
		appointmentURL string
		takenTimeout   time.Duration
	)
	a, err := appdb.New(ctx, app.Options{
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&appointmentURL, "appointment-url", "http://appointment",
				`where booked times are read: "http://appointment" through discovery; empty offers every slot of the working hours (no booking service)`)
			fs.DurationVar(&takenTimeout, "appointment-timeout", 2*time.Second, "bound on one call for booked times")
		},
		Name:         "doctor",
		DefaultAddr:  ":8082",
		DefaultDSN:   "sqlite:data/doctor.db",
		Migrations:   sqlstore.Migrations(),
		MaxBodyBytes: transport.MaxBodyBytes,
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
	// Slots leave out the times the appointment service has booked; when it
	// cannot answer, the slots request fails rather than offer taken times.
	var booked service.TakenSlots = taken.None{}
	if appointmentURL != "" {
		booked = taken.NewHTTP(a.HTTPClient, taken.HTTPOptions{BaseURL: appointmentURL, Timeout: takenTimeout})
	}
	var svc service.Service = service.New(store, booked, clock.System{}, ids.New)
	svc = service.Middleware(a.Logger, metrics.NewMethod(a.Registry, "doctor"))(svc)

	router := a.Router()
	transport.Register(router, endpoint.New(svc), verifier, a.Logger)
	_ = level.Info(a.Logger).Log("msg", "starting", "addr", a.Config.HTTPAddr, "dialect", a.DB.Dialect)
	return a.Run(ctx, a.Handler(router))
}
