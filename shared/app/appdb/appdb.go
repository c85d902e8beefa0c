// Package appdb starts a service that owns a database: the app of shared/app
// plus the database of -db-dsn, migrated, checked by readiness and closed
// with the app, and the event broker and outbox relay of a service that
// publishes or consumes events. It is apart from app so that a process
// without a database links no database driver, goose nor broker client.
package appdb

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/config"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/sqldb"
)

// App is a service process with its database.
type App struct {
	*app.App
	DB *sqldb.DB
	// Broker is the event broker: broker.Disabled without -broker-url.
	Broker broker.Broker
	// Relay publishes the outbox (Options.Outbox); call its Notify after
	// committing events for the lowest latency. Nil without a broker.
	Relay *outbox.Relay

	brokerURL string
}

// New is app.New, then opens and migrates the database named by -db-dsn
// (o.DefaultDSN must be set): with -db-migrate-dsn the migrations run as
// that account.
func New(ctx context.Context, o app.Options, args []string, lookup func(string) (string, bool), stderr io.Writer) (*App, error) {
	if o.DefaultDSN == "" {
		return nil, fmt.Errorf("appdb: %s has no default database (Options.DefaultDSN)", o.Name)
	}
	d := &App{}
	flags := o.Flags
	o.Flags = func(fs *flag.FlagSet) {
		fs.StringVar(&d.brokerURL, "broker-url", "", "event broker: nats://host:4222 (NATS JetStream; comma-separated for a cluster) or amqp://user:pass@host:5672/ (RabbitMQ); empty: events wait in the outbox")
		if flags != nil {
			flags(fs)
		}
	}
	a, err := app.New(ctx, o, args, lookup, stderr)
	if err != nil {
		return nil, err
	}
	d.App = a
	openCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The driver's own lines go through the service's logger, in its format.
	db, err := openDatabase(openCtx, a.Config, o.Migrations, sqldb.WithLogger(a.Logger))
	if err != nil {
		_ = a.Close()
		return nil, fmt.Errorf("database: %w", err)
	}
	// Pool use (open, in use, idle, waits): what tells a saturated pool
	// from a slow database. db_name is the service's name.
	a.Registry.MustRegister(collectors.NewDBStatsCollector(db.DB, o.Name))
	a.Health.Add("database", db.Ping)
	a.OnClose(func() error {
		if err := db.Close(); err != nil {
			return fmt.Errorf("close database: %w", err)
		}
		return nil
	})
	_ = level.Info(a.Logger).Log("msg", "database ready", "dialect", db.Dialect)
	d.DB = db
	if err := d.openBroker(ctx, o.Outbox); err != nil {
		_ = a.Close()
		return nil, err
	}
	return d, nil
}

// openDatabase opens the database the service serves with (-db-dsn) and
// applies the migrations. With -db-migrate-dsn they run as that account, the
// schema owner, whose connection closes once they are done: the serving
// account then needs no right to change the schema, so it cannot drop what
// protects the data (the audit triggers, for one).
func openDatabase(ctx context.Context, c config.Common, migrations fs.FS, opts ...sqldb.Option) (*sqldb.DB, error) {
	db, err := sqldb.Open(ctx, c.DBDSN, opts...)
	if err != nil {
		return nil, err
	}
	if migrations == nil {
		return db, nil
	}
	if c.DBMigrateDSN == "" {
		if err := db.Migrate(ctx, migrations); err != nil {
			_ = db.Close()
			return nil, err
		}
		return db, nil
	}
	if err := migrateAs(ctx, c.DBMigrateDSN, db.Dialect, migrations, opts...); err != nil {
		_ = db.Close()
		return nil, err
	}
	// The dialects matching does not make them one database (another
	// service's, another server's): the served one must show the
	// migrations applied.
	if err := db.CheckMigrated(ctx, migrations); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("-db-migrate-dsn migrated, yet the database of -db-dsn is not migrated (both must name the same database): %w", err)
	}
	return db, nil
}

// migrateAs applies the migrations through dsn, which must be of the serving
// database's dialect, and closes that connection.
func migrateAs(ctx context.Context, dsn string, dialect sqldb.Dialect, migrations fs.FS, opts ...sqldb.Option) (err error) {
	owner, err := sqldb.Open(ctx, dsn, opts...)
	if err != nil {
		return fmt.Errorf("migration account: %w", err)
	}
	defer func() {
		if cerr := owner.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close migration connection: %w", cerr)
		}
	}()
	if owner.Dialect != dialect {
		return fmt.Errorf("-db-migrate-dsn is %s but -db-dsn is %s: both must name the same database", owner.Dialect, dialect)
	}
	if err := owner.Migrate(ctx, migrations); err != nil {
		return fmt.Errorf("migration account: %w", err)
	}
	return nil
}
