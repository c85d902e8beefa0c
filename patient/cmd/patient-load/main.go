// Command patient-load measures the patient service binary on loopback
// against MariaDB, or PostgreSQL with -postgres: it seeds patients in bulk (once; later runs reuse them),
// serves a JWKS of its own and starts the binary trusting it, then drives
// GET /api/v1/patients/{id} and name searches with valid tokens for a fixed
// time each, and reports requests/s with p50 and p99 latency. It finally
// stops the binary and checks that every answered request left its audit
// event.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/seed"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/loadkit"
	"github.com/medisync/medisync/shared/sqldb"
)

type options struct {
	bin, server, pgServer, database, addr, logLevel string
	patients                                        int
	seed                                            uint64
	duration, searchDuration, warmup                time.Duration
	clients, searchClients                          int
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/patient", "patient binary to start")
	flag.StringVar(&o.server, "mysql", "medisync:medisync@tcp(127.0.0.1:3306)/", "MariaDB server DSN, without database")
	flag.StringVar(&o.pgServer, "postgres", "", "PostgreSQL server DSN naming any database it may connect to, "+
		"e.g. postgres://medisync:medisync@127.0.0.1:5432/postgres?sslmode=disable; when set, the load runs on PostgreSQL instead of MariaDB")
	flag.StringVar(&o.database, "database", "medisync_patient_load", "database to seed and serve (created when missing)")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:18083", "address the binary listens on (loopback)")
	flag.StringVar(&o.logLevel, "log-level", "info", "log level of the binary")
	flag.IntVar(&o.patients, "patients", 100_000, "patients in the database")
	flag.Uint64Var(&o.seed, "seed", 20260615, "seed of the generated patients")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "how long to drive GET by id")
	flag.DurationVar(&o.searchDuration, "search-duration", 10*time.Second, "how long to drive searches")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each phase")
	flag.IntVar(&o.clients, "clients", 32, "concurrent clients for GET by id")
	flag.IntVar(&o.searchClients, "search-clients", 2, "concurrent clients for searches")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "patient-load:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if host, _, err := net.SplitHostPort(o.addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return errors.New("-addr must be a loopback address")
	}
	ctx := context.Background()

	// Database: created, migrated and seeded once.
	dsn, err := createDatabase(ctx, o)
	if err != nil {
		return err
	}
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx, sqlstore.Migrations()); err != nil {
		return err
	}
	store := sqlstore.New(db)
	defer store.Close()
	start := time.Now()
	ps, seeded, err := seed.Ensure(ctx, store, o.patients, o.seed)
	if err != nil {
		return err
	}
	if seeded && db.Dialect == sqldb.Postgres {
		// Statistics now, not when autovacuum gets round to the new rows, so
		// the first searches are planned on the indexes.
		if _, err := db.ExecContext(ctx, "ANALYZE patients"); err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
	}
	if seeded {
		fmt.Printf("patients: %d seeded in %s\n", len(ps), time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Printf("patients: %d (reused)\n", len(ps))
	}
	auditBefore, err := countAudit(ctx, db)
	if err != nil {
		return err
	}

	// Keys: the binary trusts a JWKS served here.
	minter, err := loadkit.NewMinter()
	if err != nil {
		return err
	}
	jwksURL, stopJWKS, err := minter.ServeJWKS()
	if err != nil {
		return err
	}
	defer stopJWKS()

	// The binary under test.
	logFile, err := os.CreateTemp("", "patient-load-*.log")
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(o.bin)
	cmd.Env = append(os.Environ(),
		"MEDISYNC_HTTP_ADDR="+o.addr, "MEDISYNC_DB_DSN="+dsn, "MEDISYNC_JWKS_URL="+jwksURL,
		"MEDISYNC_DISCOVERY_URLS=", "MEDISYNC_LOG_LEVEL="+o.logLevel)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	bin, err := loadkit.Start(ctx, "patient", cmd, o.addr)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, logFile.Name())
	}
	defer bin.Stop()
	base := "http://" + o.addr
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}}
	fmt.Printf("binary: %s on %s, log level %s (log: %s)\n", o.bin, o.addr, o.logLevel, logFile.Name())

	tokens := make([]string, 16)
	for i := range tokens {
		if tokens[i], err = minter.Sign(loadkit.Claims{Roles: []string{authn.RoleDoctor}}); err != nil {
			return err
		}
	}
	byID := func(rng *rand.Rand) string { return base + "/api/v1/patients/" + ps[rng.IntN(len(ps))].ID }
	queries := []string{"s", "smi", "bar", "jo", "m", "zim", "leo", "a", "x", "ros", "win", "car"}
	search := func(rng *rand.Rand) string {
		return base + "/api/v1/patients?q=" + queries[rng.IntN(len(queries))]
	}

	var answered atomic.Int64
	getRes := drive(client, tokens, byID, false, o.clients, o.warmup, o.duration, &answered)
	fmt.Println(getRes.Line(fmt.Sprintf("GET /api/v1/patients/{id}     %d clients", o.clients)))
	searchRes := drive(client, tokens, search, true, o.searchClients, o.warmup, o.searchDuration, &answered)
	fmt.Println(searchRes.Line(fmt.Sprintf("GET /api/v1/patients?q=prefix %d clients", o.searchClients)))

	// Stopping flushes the audit events still queued; every answered
	// request must have left exactly its events.
	if err := bin.Stop(); err != nil {
		return fmt.Errorf("binary exited with %w (log: %s)", err, logFile.Name())
	}
	auditAfter, err := countAudit(ctx, db)
	if err != nil {
		return err
	}
	fmt.Printf("audit events: %d written, %d expected from the answered requests\n", auditAfter-auditBefore, answered.Load())
	if auditAfter-auditBefore != answered.Load() {
		return errors.New("audit events and answered requests differ")
	}
	if getRes.Errors+searchRes.Errors > 0 {
		return fmt.Errorf("%d requests failed", getRes.Errors+searchRes.Errors)
	}
	return nil
}

// drive runs clients loops of GETs to next() with a token for warmup, then
// for d measuring each request; answered counts the audit events every 200
// must have left (warm-up too): one, and for a list one more per patient on
// the page, since a search records a read of each patient it shows.
func drive(client *http.Client, tokens []string, next func(*rand.Rand) string, list bool, clients int,
	warmup, d time.Duration, answered *atomic.Int64) loadkit.Summary {
	var (
		mu      sync.Mutex
		allLat  []time.Duration
		allErrs int64
		wg      sync.WaitGroup
	)
	begin := time.Now()
	measureFrom, end := begin.Add(warmup), begin.Add(warmup+d)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			token := "Bearer " + tokens[c%len(tokens)]
			var lat []time.Duration
			var errs int64
			for {
				start := time.Now()
				if start.After(end) {
					break
				}
				req, _ := http.NewRequest(http.MethodGet, next(rng), nil)
				req.Header.Set("Authorization", token)
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == http.StatusOK
				events := int64(1)
				if err == nil {
					if ok && list {
						var page struct{ Items []json.RawMessage }
						if json.NewDecoder(resp.Body).Decode(&page) != nil {
							ok = false
						}
						events += int64(len(page.Items))
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
				if ok {
					answered.Add(events)
				}
				if start.Before(measureFrom) {
					continue
				}
				lat = append(lat, time.Since(start))
				if !ok {
					errs++
				}
			}
			mu.Lock()
			allLat = append(allLat, lat...)
			allErrs += errs
			mu.Unlock()
		}()
	}
	wg.Wait()
	return loadkit.Summarize(allLat, allErrs, time.Since(measureFrom))
}

// createDatabase creates o.database on the chosen server when missing and
// returns its DSN.
func createDatabase(ctx context.Context, o options) (string, error) {
	if !validName.MatchString(o.database) {
		return "", errors.New("-database must be lower-case letters, digits and _")
	}
	if o.pgServer == "" {
		admin, err := sqldb.Open(ctx, "mysql://"+o.server+"?parseTime=true")
		if err != nil {
			return "", fmt.Errorf("MariaDB (run scripts/mariadb-up.sh): %w", err)
		}
		defer admin.Close()
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE IF NOT EXISTS `"+o.database+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
			return "", fmt.Errorf("create database: %w", err)
		}
		return "mysql://" + o.server + o.database + "?parseTime=true", nil
	}
	u, err := url.Parse(o.pgServer)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The parser's message may quote the DSN, password included.
		return "", errors.New("-postgres must be a postgres:// URL")
	}
	admin, err := sqldb.Open(ctx, o.pgServer)
	if err != nil {
		return "", fmt.Errorf("PostgreSQL (run scripts/postgres-up.sh): %w", err)
	}
	defer admin.Close()
	var exists bool
	if err := admin.QueryRowContext(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = ?)", o.database).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up database: %w", err)
	}
	if !exists {
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+o.database+" ENCODING 'UTF8'"); err != nil {
			return "", fmt.Errorf("create database: %w", err)
		}
	}
	u.Path, u.RawPath = "/"+o.database, ""
	return u.String(), nil
}

// validName is a database name both servers take unquoted.
var validName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

func countAudit(ctx context.Context, db *sqldb.DB) (int64, error) {
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM audit_events").Scan(&n); err != nil {
		return 0, fmt.Errorf("count audit events: %w", err)
	}
	return n, nil
}
