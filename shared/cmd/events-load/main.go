// Command events-load measures the event path on this machine: events from
// a SQL outbox through the relay and NATS JetStream to a consumer whose
// effect is an inbox claim and an insert in its own database. It reports
// the throughput of a backlog, the commit-to-effect latency at a steady
// rate, and how long the backlog of a broker outage takes to drain.
//
//	events-load                                   # SQLite files, an in-process NATS server
//	events-load -nats-server bin/nats-server      # the real server, as a child process
//	events-load -producer-dsn mysql://... -consumer-dsn mysql://...
package main

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	fsys "io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/inbox"
	"github.com/medisync/medisync/shared/loadkit"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/sqldb"
)

// migrations hold the outbox, processed_events and effects tables.
//
//go:embed migrations
var migrations embed.FS

const eventType = "loadgen.thing_happened"

func main() {
	app.Main("events-load", func(ctx context.Context, args []string) error { return run(ctx, args, os.Stdout) })
}

type options struct {
	producerDSN, consumerDSN, natsBin string
	cpuProfile                        string
	backlog, rate, batch, workers     int
	latencyFor, outage                time.Duration
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("events-load", flag.ContinueOnError)
	fs.StringVar(&o.producerDSN, "producer-dsn", "", "the producer's database (its outbox); empty: a SQLite file in a temporary folder")
	fs.StringVar(&o.consumerDSN, "consumer-dsn", "", "the consumer's database (its inbox and effects); empty: another SQLite file")
	fs.StringVar(&o.natsBin, "nats-server", "", "nats-server binary to run as a child process; empty: a server inside this process")
	fs.IntVar(&o.backlog, "backlog", 50000, "events in the outbox for the throughput run")
	fs.IntVar(&o.rate, "rate", 500, "events/s written, one per transaction, in the latency and outage runs")
	fs.DurationVar(&o.latencyFor, "latency-duration", 20*time.Second, "length of the latency run")
	fs.DurationVar(&o.outage, "outage", 60*time.Second, "how long the broker is down in the outage run (0 skips it)")
	fs.IntVar(&o.batch, "relay-batch", 0, "events per relay transaction; 0: the relay's default")
	fs.IntVar(&o.workers, "consumer-workers", 8, "events the consumer applies at once")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the throughput run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.backlog < 1 || o.rate < 1 || o.workers < 1 || o.batch < 0 || o.latencyFor <= 0 || o.outage < 0 {
		return errors.New("-backlog, -rate, -consumer-workers and -latency-duration must be positive, -relay-batch and -outage not negative")
	}
	dir, err := os.MkdirTemp("", "events-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.producerDSN == "" {
		o.producerDSN = "sqlite:" + filepath.Join(dir, "producer.db")
	}
	if o.consumerDSN == "" {
		o.consumerDSN = "sqlite:" + filepath.Join(dir, "consumer.db")
	}
	prod, err := openDB(ctx, o.producerDSN)
	if err != nil {
		return fmt.Errorf("producer database: %w", err)
	}
	defer prod.Close()
	cons, err := openDB(ctx, o.consumerDSN)
	if err != nil {
		return fmt.Errorf("consumer database: %w", err)
	}
	defer cons.Close()

	srv, err := startNATS(o.natsBin, filepath.Join(dir, "nats"))
	if err != nil {
		return err
	}
	defer srv.stop()
	b, err := broker.Open(ctx, srv.url, broker.Options{Logger: log.NewNopLogger()})
	if err != nil {
		return err
	}
	defer b.Close()

	l := &loadRun{o: o, prod: prod, cons: cons, commits: map[string]time.Time{}}
	consCtx, stopConsumer := context.WithCancel(ctx)
	consDone := make(chan error, 1)
	go func() {
		consDone <- b.Consume(consCtx, broker.Consumer{Name: "events-load", Types: []string{eventType}, Concurrency: o.workers, Handler: l.apply})
	}()
	defer func() { stopConsumer(); <-consDone }()

	fmt.Fprintf(out, "producer %s, consumer %s, NATS %s, relay batch %d, %d consumer workers\n",
		prod.Dialect, cons.Dialect, srv.kind, o.batch, o.workers)

	// Throughput: a backlog written first, then the relay starts.
	if err := l.fill(ctx, o.backlog); err != nil {
		return err
	}
	relay := outbox.NewRelay(prod, b, outbox.RelayOptions{Batch: o.batch, Logger: log.NewNopLogger()})
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	relayCtx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan struct{})
	start := time.Now()
	go func() { defer close(relayDone); _ = relay.Run(relayCtx) }()
	defer func() { stopRelay(); <-relayDone }()
	var published time.Duration
	for l.applied.Load() < int64(o.backlog) {
		if published == 0 {
			if n, err := relay.Backlog(ctx); err == nil && n == 0 {
				published = time.Since(start)
			}
		}
		if err := pause(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
	took := time.Since(start)
	pprof.StopCPUProfile()
	if published == 0 {
		published = took
	}
	fmt.Fprintf(out, "throughput: %d events outbox -> effect in %v: %.0f events/s (relay published them all in %v: %.0f/s)\n",
		o.backlog, took.Round(time.Millisecond), float64(o.backlog)/took.Seconds(),
		published.Round(time.Millisecond), float64(o.backlog)/published.Seconds())

	// Latency: one event per transaction at the rate, the relay nudged
	// after each commit as a service does.
	l.track.Store(true)
	n, err := l.produce(ctx, o.rate, o.latencyFor, relay.Notify)
	if err != nil {
		return err
	}
	if err := l.await(ctx, int64(o.backlog+n), time.Minute); err != nil {
		return err
	}
	l.track.Store(false)
	s := l.latencies()
	slices.Sort(s)
	fmt.Fprintf(out, "latency at %d events/s for %v (%d events), commit -> effect: p50 %v  p95 %v  p99 %v  max %v\n",
		o.rate, o.latencyFor, len(s), loadkit.Percentile(s, 0.50).Round(10*time.Microsecond),
		loadkit.Percentile(s, 0.95).Round(10*time.Microsecond), loadkit.Percentile(s, 0.99).Round(10*time.Microsecond),
		loadkit.Percentile(s, 1).Round(10*time.Microsecond))
	if o.outage <= 0 {
		return nil
	}

	// Outage: the broker stops, events keep coming, the broker returns.
	if err := srv.down(); err != nil {
		return err
	}
	before := l.applied.Load()
	m, err := l.produce(ctx, o.rate, o.outage, relay.Notify)
	if err != nil {
		return err
	}
	waiting, _ := relay.Backlog(ctx)
	if err := srv.up(); err != nil {
		return err
	}
	back := time.Now()
	if err := l.await(ctx, int64(o.backlog+n+m), 10*time.Minute); err != nil {
		return err
	}
	fmt.Fprintf(out, "outage of %v at %d events/s: %d events written, %d waited in the outbox (%d applied meanwhile); drained to the consumer %v after the broker returned\n",
		o.outage, o.rate, m, waiting, l.applied.Load()-before-int64(m), time.Since(back).Round(time.Millisecond))
	return nil
}

// loadRun is the producer and the consumer of one run.
type loadRun struct {
	o          options
	prod, cons *sqldb.DB
	applied    atomic.Int64 // first applications
	track      atomic.Bool  // record latencies

	mu      sync.Mutex
	commits map[string]time.Time // event id -> commit of its change
	lat     []time.Duration
}

// apply is the consumer's effect: claim, insert, commit.
func (l *loadRun) apply(ctx context.Context, ev events.Event) error {
	first := false
	err := l.cons.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		if first, err = inbox.Claim(ctx, tx, l.cons.Dialect, ev, time.Now()); err != nil || !first {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO effects (id) VALUES (?)`, ev.ID)
		return err
	})
	if err != nil || !first {
		return err
	}
	l.applied.Add(1)
	if l.track.Load() {
		l.mu.Lock()
		if at, ok := l.commits[ev.ID]; ok {
			l.lat = append(l.lat, time.Since(at))
			delete(l.commits, ev.ID)
		}
		l.mu.Unlock()
	}
	return nil
}

func (l *loadRun) latencies() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.lat
	l.lat = nil
	return s
}

func newEvent(i int) (events.Event, error) {
	return events.New(eventType, 1, strconv.Itoa(i), map[string]any{"n": i, "note": "a payload of the size of a small event"}, time.Now())
}

// fill writes n events to the outbox, 500 per transaction.
func (l *loadRun) fill(ctx context.Context, n int) error {
	for i := 0; i < n; i += 500 {
		evs := make([]events.Event, 0, 500)
		for j := i; j < min(i+500, n); j++ {
			ev, err := newEvent(j)
			if err != nil {
				return err
			}
			evs = append(evs, ev)
		}
		if err := l.prod.InTx(ctx, func(tx *sql.Tx) error { return outbox.Write(ctx, tx, evs...) }); err != nil {
			return fmt.Errorf("fill the outbox: %w", err)
		}
	}
	return nil
}

// produce writes events at rate for d, one per transaction, calling
// committed after each commit, and reports how many it wrote.
func (l *loadRun) produce(ctx context.Context, rate int, d time.Duration, committed func()) (int, error) {
	every := time.Second / time.Duration(rate)
	start := time.Now()
	n := 0
	for next := start; time.Since(start) < d; next = next.Add(every) {
		if err := pause(ctx, time.Until(next)); err != nil {
			return n, err
		}
		ev, err := newEvent(n)
		if err != nil {
			return n, err
		}
		if err := l.prod.InTx(ctx, func(tx *sql.Tx) error { return outbox.Write(ctx, tx, ev) }); err != nil {
			return n, fmt.Errorf("write an event: %w", err)
		}
		if l.track.Load() {
			l.mu.Lock()
			l.commits[ev.ID] = time.Now()
			l.mu.Unlock()
		}
		committed()
		n++
	}
	return n, nil
}

// await waits until the consumer has applied total events.
func (l *loadRun) await(ctx context.Context, total int64, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for l.applied.Load() < total {
		if time.Now().After(deadline) {
			return fmt.Errorf("the consumer applied %d of %d events within %v", l.applied.Load(), total, limit)
		}
		if err := pause(ctx, 2*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// openDB opens dsn and empties the tables of an earlier run.
func openDB(ctx context.Context, dsn string) (*sqldb.DB, error) {
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, migrationsFS()); err != nil {
		_ = db.Close()
		return nil, err
	}
	for _, t := range []string{"outbox", "processed_events", "effects"} {
		if _, err := db.ExecContext(ctx, "DELETE FROM "+t); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("empty %s: %w", t, err)
		}
	}
	return db, nil
}

// natsServer is the broker of the run, which the outage run stops.
type natsServer struct {
	kind string
	url  string
	down func() error
	up   func() error
	stop func()
}

// startNATS runs bin (with JetStream, its store under dir) as a child
// process, or a server in this process when bin is empty.
func startNATS(bin, dir string) (*natsServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &natsServer{url: "nats://127.0.0.1:" + strconv.Itoa(port)}
	if bin == "" {
		opts := natsserver.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true}
		var srv *natsserver.Server
		s.kind = "in process"
		s.up = func() error {
			o := opts
			if srv, err = natsserver.NewServer(&o); err != nil {
				return fmt.Errorf("nats server: %w", err)
			}
			go srv.Start()
			if !srv.ReadyForConnections(10 * time.Second) {
				return errors.New("nats server not ready")
			}
			return nil
		}
		s.down = func() error { srv.Shutdown(); srv.WaitForShutdown(); return nil }
		s.stop = func() { _ = s.down() }
		return s, s.up()
	}
	var cmd *exec.Cmd
	s.kind = "child process " + bin
	s.up = func() error {
		cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", dir)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("nats-server: %w", err)
		}
		for range 200 {
			if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
				_ = c.Close()
				return nil
			}
			time.Sleep(25 * time.Millisecond)
		}
		return errors.New("nats-server did not listen")
	}
	s.down = func() error {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		return nil
	}
	s.stop = func() { _ = s.down() }
	return s, s.up()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func migrationsFS() fsys.FS {
	sub, err := fsys.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded folder is there
	}
	return sub
}
