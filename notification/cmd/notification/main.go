// Command notification sends the messages of medisync: password reset
// mail, appointment confirmations, changes and reminders, by email and in
// an in-app inbox (see ../../README.md).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/notification/adapter/consumer"
	"github.com/medisync/medisync/notification/adapter/email"
	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/notification/endpoint"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/notification/templates"
	"github.com/medisync/medisync/notification/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/app/appdb"
	"github.com/medisync/medisync/shared/broker/dlqhttp"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/seal"
)

func main() { app.Main("notification", run) }

// options are the service's own flags.
type options struct {
	mail, mailDir, mailFrom                string
	smtp                                   email.SMTPConfig
	smtpTLS                                string
	sealKey                                string
	reminderLead, reminderEvery, mailEvery time.Duration
	maxAttempts, eventWorkers              int
}

func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.mail, "mail", "smtp", "mail channel: smtp (a real server, -smtp-addr) or dev-mailbox (.eml files under -mail-dir and a page at /dev/mail; development only)")
	fs.StringVar(&o.mailDir, "mail-dir", "data/mail", "folder of the development mailbox")
	fs.StringVar(&o.mailFrom, "mail-from", "MediSync <no-reply@medisync.local>", "From address of every mail: name <addr> or addr")
	fs.StringVar(&o.smtp.Addr, "smtp-addr", "", "SMTP server host:port (required with -mail smtp)")
	fs.StringVar(&o.smtp.Username, "smtp-username", "", "SMTP account (PLAIN authentication over TLS); empty for none")
	fs.StringVar(&o.smtp.Password, "smtp-password", "", "SMTP password")
	fs.StringVar(&o.smtpTLS, "smtp-tls", "starttls", "SMTP protection: starttls (required), tls (implicit, port 465) or none")
	fs.StringVar(&o.sealKey, "event-seal-key", "", "base64 key (32 bytes) that opens the reset links auth seals in its events")
	fs.DurationVar(&o.reminderLead, "reminder-lead", 24*time.Hour, "how long before an appointment its reminder goes out")
	fs.DurationVar(&o.reminderEvery, "reminder-interval", 30*time.Second, "how often due reminders are looked for")
	fs.DurationVar(&o.mailEvery, "mail-interval", 5*time.Second, "how often the mail queue is worked")
	fs.IntVar(&o.maxAttempts, "mail-max-attempts", service.DefaultConfig().MaxAttempts, "attempts at a mail before it is given up (100: about four days at the longest wait of 1 h)")
	fs.IntVar(&o.eventWorkers, "event-workers", 4, "events an instance applies at once")
}

// mailer opens the mail channel. Production needs a real SMTP server: the
// development mailbox must be asked for by name.
func (o *options) mailer() (service.Mailer, *email.Mailbox, error) {
	switch o.mail {
	case "smtp":
		if o.smtp.Addr == "" {
			return nil, nil, errors.New("the mail channel needs an SMTP server (-smtp-addr); on a development machine, -mail dev-mailbox writes mail to files instead")
		}
		o.smtp.From, o.smtp.TLS = o.mailFrom, email.TLSMode(o.smtpTLS)
		m, err := email.NewSMTP(o.smtp)
		return m, nil, err
	case "dev-mailbox":
		b, err := email.NewMailbox(o.mailDir, o.mailFrom)
		return b, b, err
	default:
		return nil, nil, fmt.Errorf("-mail %q: want smtp or dev-mailbox", o.mail)
	}
}

func run(ctx context.Context, args []string) error {
	var o options
	a, err := appdb.New(ctx, app.Options{
		Name:         "notification",
		DefaultAddr:  ":8086",
		DefaultDSN:   "sqlite:data/notification.db",
		Migrations:   sqlstore.Migrations(),
		MaxBodyBytes: transport.MaxBodyBytes,
		Flags:        o.register,
	}, args, os.LookupEnv, os.Stderr)
	if err != nil {
		return err
	}
	svc, mailbox, err := build(a, &o)
	if err != nil {
		_ = a.Close()
		return err
	}
	verifier, err := a.Verifier(ctx)
	if err != nil {
		_ = a.Close()
		return err
	}

	router := a.Router()
	transport.Register(router, endpoint.New(svc), verifier)
	if mailbox != nil {
		router.PathPrefix("/dev/mail").Handler(mailbox.Handler())
		_ = level.Warn(a.Logger).Log("msg", "development mailbox: mail is written to files, not sent", "dir", mailbox.Dir(), "page", "/dev/mail")
	}

	// The background work: reminders, the mail queue and the hourly prune, on every
	// instance (the store hands each item to one of them), on a context
	// that ends after the requests drain, not with the signal that starts
	// it (app.Work).
	work := app.NewWork(ctx)
	loop := func(name string, every time.Duration, fn func(context.Context) (int, error)) {
		work.Every(every, func(ctx context.Context) {
			if _, err := fn(ctx); err != nil && ctx.Err() == nil {
				_ = level.Error(a.Logger).Log("msg", name+" failed", "err", err)
			}
		})
	}
	loop("reminders", o.reminderEvery, svc.FireDueReminders)
	loop("mail queue", o.mailEvery, svc.DeliverMail)
	// Held mail and slot offers past their time, and inbox claims past
	// their retention, go hourly.
	loop("prune", time.Hour, func(ctx context.Context) (int, error) {
		n, err := svc.Prune(ctx)
		if n > 0 {
			_ = level.Info(a.Logger).Log("msg", "pruned held mail, slot offers and inbox claims", "count", n)
		}
		return n, err
	})

	// Events, on the same work context: the consumer stops with the
	// background work, after the requests drain. Without -broker-url the
	// broker is disabled and nothing arrives.
	work.Go(func(ctx context.Context) {
		if err := consumer.Run(ctx, consumer.NewBroker(a.Broker, o.eventWorkers), svc); err != nil {
			_ = level.Error(a.Logger).Log("msg", "event consumer stopped", "err", err)
		}
	})
	dlqhttp.Register(router, "/api/v1/notifications/admin", a.Broker.DeadLetters(consumer.Name), verifier)

	_ = level.Info(a.Logger).Log("msg", "starting", "addr", a.Config.HTTPAddr, "dialect", a.DB.Dialect, "mail", o.mail)
	return a.Run(ctx, a.Handler(router), work.Stop)
}

// build makes the service on the app's database and the configured channels.
func build(a *appdb.App, o *options) (service.Service, *email.Mailbox, error) {
	cfg := service.DefaultConfig()
	if o.sealKey == "" {
		return nil, nil, errors.New("-event-seal-key is required: it opens the password reset links of auth's events")
	}
	key, err := seal.ParseKey(o.sealKey)
	if err != nil {
		return nil, nil, fmt.Errorf("-event-seal-key: %w", err)
	}
	cfg.SealKey = &key
	if o.reminderLead <= 0 || o.reminderEvery <= 0 || o.mailEvery <= 0 || o.maxAttempts < 1 || o.eventWorkers < 1 || o.eventWorkers > 64 {
		return nil, nil, errors.New("-reminder-lead, -reminder-interval and -mail-interval must be positive, -mail-max-attempts at least 1, -event-workers from 1 to 64")
	}
	cfg.ReminderLead, cfg.MaxAttempts = o.reminderLead, o.maxAttempts
	mailer, mailbox, err := o.mailer()
	if err != nil {
		return nil, nil, err
	}
	tpl, err := templates.Load()
	if err != nil {
		return nil, nil, err
	}
	var svc service.Service = service.New(service.Deps{
		Repo: sqlstore.New(a.DB), Mailer: mailer, Templates: tpl, Clock: clock.System{}, Config: cfg,
	})
	return service.Middleware(a.Logger, metrics.NewMethod(a.Registry, "notification"))(svc), mailbox, nil
}
