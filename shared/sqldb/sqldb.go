// Package sqldb opens the databases medisync services use, from a DSN of the
// form "sqlite:<path>", "mysql://user:pass@tcp(host:port)/db?parseTime=true" or
// "postgres://user:pass@host:port/db?sslmode=disable", applies embedded
// per-dialect migrations with goose, and runs transactions.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// Dialect names a SQL dialect; it is also the folder of its migrations.
type Dialect string

// The dialects medisync supports.
const (
	SQLite   Dialect = "sqlite"
	MySQL    Dialect = "mysql"
	Postgres Dialect = "postgres"
)

// DB is a database handle that knows its dialect.
type DB struct {
	*sql.DB
	Dialect Dialect
	// sqlitePath is the SQLite file, whose migration lock lies next to it.
	sqlitePath string
	// probe is Ping's own one-connection pool (newProbe).
	probe *sql.DB
}

// Option tunes Open.
type Option func(*options)

type options struct {
	logger log.Logger // nil: the drivers' own
}

// WithLogger sends what a driver logs of its own (the MySQL driver's
// "closing bad idle connection", say) to logger as warnings, in the
// service's log format, instead of the driver's plain lines on standard
// error, which a log pipeline cannot parse.
func WithLogger(logger log.Logger) Option {
	return func(o *options) { o.logger = logger }
}

// Open parses dsn, opens the database with sane pool limits and checks that
// it answers. SQLite files get WAL, foreign keys and a busy timeout; their
// folder is created.
func Open(ctx context.Context, dsn string, opts ...Option) (*DB, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.HasPrefix(dsn, "mysql://"):
		return openMySQL(ctx, strings.TrimPrefix(dsn, "mysql://"), o)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return openPostgres(ctx, dsn)
	default:
		return nil, fmt.Errorf("database DSN must start with sqlite:, mysql:// or postgres://")
	}
}

// fileURI is path as the file: URI SQLite opens. A '#' would start a
// fragment and '%' an escape, so a folder such as "case#01" would
// otherwise open another file, and its migration lock the same one.
func fileURI(path string) string {
	return "file:" + uriPathEscaper.Replace(path)
}

var uriPathEscaper = strings.NewReplacer("%", "%25", "#", "%23", "?", "%3f")

func openSQLite(ctx context.Context, path string) (*DB, error) {
	// In WAL mode synchronous NORMAL keeps every commit through a crash of
	// the process and syncs at checkpoints; a power cut may take back the
	// last commits. ?synchronous=full syncs every commit, at the disk's
	// sync rate (the event pipeline: about 1,000 events/s instead of 7,500).
	sync := "NORMAL"
	if p, opts, ok := strings.Cut(path, "?"); ok {
		if opts != "synchronous=full" {
			return nil, fmt.Errorf("sqlite DSN option %q: only synchronous=full is known", opts)
		}
		path, sync = p, "FULL"
	}
	if path == "" {
		return nil, errors.New("sqlite DSN has no path")
	}
	if path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("create database folder: %w", err)
		}
	}
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous("+sync+")")
	// Write transactions take the lock up front, so two writers queue on the
	// busy timeout instead of failing on a lock upgrade.
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	db, err := sql.Open("sqlite", fileURI(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ping sqlite %s: %w", path, err)
	}
	probe, err := sql.Open("sqlite", fileURI(path)+"?"+q.Encode())
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{DB: db, Dialect: SQLite, sqlitePath: path, probe: probeLimits(probe)}, nil
}

func openMySQL(ctx context.Context, dsn string, o options) (*DB, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		// The parser's message may quote the DSN, password included.
		return nil, errors.New("invalid mysql DSN")
	}
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	cfg.ClientFoundRows = true
	// Arguments are escaped by the driver into the statement, so that a
	// statement with arguments is one round trip instead of three (prepare,
	// execute, close): safe with the utf8mb4 connection this sets.
	cfg.InterpolateParams = true
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 30 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Collation = "utf8mb4_unicode_ci"
	// A transaction's COMMIT and ROLLBACK end with its context
	// (txbound.go), not after the read timeout.
	cfg.DialFunc = dialKeepingSocket
	if o.logger != nil {
		// The connector's own, not mysql.SetLogger, which is the whole
		// process's.
		cfg.Logger = driverLogger{level.Warn(o.logger)}
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, errors.New("invalid mysql DSN")
	}
	c := readCommitted{boundConnector{connector}}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ping mysql %s@%s/%s: %w", cfg.User, cfg.Addr, cfg.DBName, err)
	}
	return &DB{DB: db, Dialect: MySQL, probe: probeLimits(sql.OpenDB(c))}, nil
}

// openPostgres opens PostgreSQL through pgx's database/sql adapter, behind a
// connector that rewrites the stores' ? placeholders to $n (rebind.go).
func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parser's message may quote the DSN, password included.
		return nil, errors.New("invalid postgres DSN")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	// Sessions speak UTC, and timestamptz values scan as UTC times, as they
	// do on MySQL (Loc = UTC) and SQLite.
	cfg.RuntimeParams["timezone"] = "UTC"
	utc := stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{
			Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	})
	c := rebindConnector{stdlib.GetConnector(*cfg, utc)}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(32)
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ping postgres %s@%s:%d/%s: %w", cfg.User, cfg.Host, cfg.Port, cfg.Database, redact(err, cfg.Password))
	}
	return &DB{DB: db, Dialect: Postgres, probe: probeLimits(sql.OpenDB(c))}, nil
}

// redact hides password in err's message, should a driver ever quote it.
func redact(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), password, "xxxxx"))
}

// Migrate applies the migrations under the dialect's folder of fsys
// ("sqlite/", "mysql/" or "postgres/"), each file "NNNNN_name.sql" in
// goose's format. Migrators of one database take turns: a second one waits
// for the first, within ctx, and then applies what is left. A migration
// older than the newest applied one but never applied is applied too.
func (db *DB) Migrate(ctx context.Context, fsys fs.FS) error {
	p, err := db.provider(fsys, true)
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	return nil
}

// CheckMigrated fails unless every migration of fsys is recorded as applied
// in db: what a connection other than the migrating one (-db-migrate-dsn's)
// must find before serving, so that migrations applied to another database
// are caught rather than served around.
func (db *DB) CheckMigrated(ctx context.Context, fsys fs.FS) error {
	p, err := db.provider(fsys, false)
	if err != nil {
		return err
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("read the applied migrations: %w", err)
	}
	if pending {
		return errors.New("migrations are pending")
	}
	return nil
}

// provider is goose's migrator for db's dialect folder of fsys; locked, it
// takes the migration lock around its work.
func (db *DB) provider(fsys fs.FS, locked bool) (*goose.Provider, error) {
	if info, err := fs.Stat(fsys, string(db.Dialect)); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("no migrations for %s: the service has no %s/ folder", db.Dialect, db.Dialect)
	}
	sub, err := fs.Sub(fsys, string(db.Dialect))
	if err != nil {
		return nil, fmt.Errorf("migrations for %s: %w", db.Dialect, err)
	}
	dialect := goose.DialectSQLite3
	switch db.Dialect {
	case MySQL:
		dialect = goose.DialectMySQL
	case Postgres:
		dialect = goose.DialectPostgres
	}
	// A version a dialect lacked may be filled in later, after newer ones
	// ran (appointment's 00005, a no-op on MySQL and SQLite, keeps the
	// dialects at one numbering): goose applies it rather than refusing to
	// start.
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true)}
	if locked {
		locker, err := db.migrationLocker()
		if err != nil {
			return nil, err
		}
		if locker != nil {
			// Instances starting together take turns (migratelock.go).
			opts = append(opts, goose.WithSessionLocker(locker))
		}
	}
	p, err := goose.NewProvider(dialect, db.DB, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("prepare migrations: %w", err)
	}
	return p, nil
}

// Querier is what *sql.DB and *sql.Tx share, so repository code can run
// inside or outside a transaction.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// InTx runs fn in a transaction, committing when it returns nil and rolling
// back otherwise (or on panic). A commit whose outcome is unknown fails
// with domainerr.ErrOutcomeUnknown in its error's chain (Commit).
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.InTxOptions(ctx, nil, fn)
}

// InTxOptions is InTx with transaction options such as an isolation level.
func (db *DB) InTxOptions(ctx context.Context, opts *sql.TxOptions, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return Commit(ctx, tx)
}

// probeLimits makes p the pool of one connection that Ping asks through.
// Readiness asks the database, not the serving pool: with every pooled
// connection busy at peak load, a ping through the pool waits its turn past
// the check's deadline, and every instance would leave service at once
// while the database is well.
func probeLimits(p *sql.DB) *sql.DB {
	p.SetMaxOpenConns(1)
	p.SetMaxIdleConns(1)
	p.SetConnMaxLifetime(30 * time.Minute)
	return p
}

// Ping is a readiness check: whether the database answers, on a connection
// of its own (probeLimits).
func (db *DB) Ping(ctx context.Context) error {
	if db.probe == nil {
		return db.PingContext(ctx)
	}
	return db.probe.PingContext(ctx)
}

// Close closes the pool and Ping's connection.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.probe != nil {
		if perr := db.probe.Close(); err == nil {
			err = perr
		}
	}
	return err
}

// driverLogger is the MySQL driver's Logger over a go-kit logger: one line
// with a fixed msg and the driver's text as err.
type driverLogger struct{ l log.Logger }

func (d driverLogger) Print(v ...any) {
	_ = d.l.Log("msg", "mysql driver", "err", strings.TrimSpace(fmt.Sprint(v...)))
}
