package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/sqldb"
)

// Publisher is where the relay hands events (broker.Publisher).
type Publisher interface {
	Publish(ctx context.Context, ev events.Event) error
}

// RelayOptions tune a Relay; zero values take the defaults.
type RelayOptions struct {
	Logger log.Logger
	// Registerer receives the relay's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Interval is the wait between polls of an empty outbox; 200 ms.
	Interval time.Duration
	// Batch is how many events one transaction takes; 200.
	Batch int
	// MaxBackoff bounds the wait after failures, which doubles from
	// Interval; 5 s, which is also about how long the relay takes to notice
	// that the broker is back.
	MaxBackoff time.Duration
	// Retention is how long published rows are kept (to answer "was it
	// sent?") before Purge deletes them; 7 days.
	Retention time.Duration
	// StopTimeout bounds the last passes Run makes when it is stopped, to
	// publish the events of the service's last requests; 5 s. StopBy
	// bounds them further.
	StopTimeout time.Duration
	// Now is the clock; time.Now.
	Now func() time.Time
}

// Relay publishes the outbox: it takes the oldest unpublished rows
// (locked with FOR UPDATE SKIP LOCKED on MySQL and PostgreSQL, so several
// relays share the work; on SQLite, read without the single write lock),
// hands them to the publisher in order, as one batch when it can, and marks
// them published with one statement. A crash after a publish and before
// the mark publishes those events again: the broker's duplicate window and
// the consumers' inbox absorb it.
type Relay struct {
	db    *sqldb.DB
	pub   Publisher
	o     RelayOptions
	nudge chan struct{}
	m     relayMetrics
	// failing is set while the publisher fails, so the log says it once.
	failing atomic.Bool
	// stopBy is the deadline StopBy set, in Unix nanoseconds; 0: none.
	stopBy atomic.Int64
}

// markGrace is how long a pass may go on after its context ends to record
// what it published (the mark and its commit): cut with the context, the
// events would be published again at the next pass, or the next start.
const markGrace = 5 * time.Second

type relayMetrics struct {
	backlog   prometheus.Gauge
	published prometheus.Counter
	failures  prometheus.Counter
	purged    prometheus.Counter
}

// NewRelay makes a relay of db's outbox to pub.
func NewRelay(db *sqldb.DB, pub Publisher, o RelayOptions) *Relay {
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.Interval <= 0 {
		o.Interval = 200 * time.Millisecond
	}
	if o.Batch <= 0 {
		o.Batch = 200
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.Retention <= 0 {
		o.Retention = 7 * 24 * time.Hour
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Relay{db: db, pub: pub, o: o, nudge: make(chan struct{}, 1), m: relayMetrics{
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "medisync_outbox_backlog", Help: "Events written to the outbox and not yet published.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "medisync_outbox_published_total", Help: "Events the relay published.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "medisync_outbox_publish_failures_total", Help: "Relay passes that failed (broker or database away).",
		}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "medisync_outbox_purged_total", Help: "Published rows deleted after the retention.",
		}),
	}}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{r.m.backlog, r.m.published, r.m.failures, r.m.purged} {
			_ = o.Registerer.Register(c)
		}
	}
	return r
}

// Notify asks the relay to look at the outbox now rather than at its next
// poll: call it after committing a transaction that wrote events. It never
// blocks.
func (r *Relay) Notify() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// StopBy bounds the last passes of Run, once its context ends, by deadline
// as well as by StopTimeout: the shutdown stopping the relay has a budget
// of its own, after which the database closes under a pass still running.
// Call it before ending Run's context.
func (r *Relay) StopBy(deadline time.Time) { r.stopBy.Store(deadline.UnixNano()) }

// Run relays until ctx ends. A batch under way when it does stops, its
// published events marked as such, and what the outbox holds then is
// published, within StopTimeout and StopBy's deadline: events committed
// just before the stop would otherwise wait for the service's next start.
func (r *Relay) Run(ctx context.Context) error {
	backoff := r.o.Interval
	lastPurge := time.Time{}
	lastBacklog := time.Time{}
	for {
		if ctx.Err() != nil {
			r.finish(ctx)
			return nil
		}
		// Cut by a stop too, which leaves no published event unmarked:
		// RelayOnce marks past the end of its context.
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := r.RelayOnce(bctx)
		// The backlog is counted whatever the pass's outcome: while the
		// broker is away it is what grows, and what the alert watches.
		if time.Since(lastBacklog) >= time.Second {
			lastBacklog = time.Now()
			// A count that fails leaves the gauge at its last value; with
			// the pass failing too the database is away, which the relay's
			// own warning already says.
			if berr := r.updateBacklog(bctx); berr != nil && err == nil {
				_ = level.Warn(r.o.Logger).Log("msg", "outbox backlog unknown", "err", berr)
			}
		}
		if err == nil && time.Since(lastPurge) >= time.Hour {
			lastPurge = time.Now()
			if _, err := r.Purge(bctx); err != nil {
				_ = level.Warn(r.o.Logger).Log("msg", "outbox purge failed", "err", err)
			}
		}
		cancel()
		wait := r.o.Interval
		switch {
		case err != nil:
			r.m.failures.Inc()
			if !r.failing.Swap(true) {
				_ = level.Warn(r.o.Logger).Log("msg", "outbox relay failing; events wait in the outbox", "err", err)
			}
			wait, backoff = backoff, min(2*backoff, r.o.MaxBackoff)
		case n == r.o.Batch:
			wait = 0 // more waits
			fallthrough
		default:
			backoff = r.o.Interval
			if r.failing.Swap(false) {
				_ = level.Info(r.o.Logger).Log("msg", "outbox relay publishing again")
			}
		}
		if wait == 0 {
			continue
		}
		// While failing the relay keeps to its backoff: a busy service's
		// nudges would otherwise send it at the broker after every commit.
		nudge := r.nudge
		if err != nil {
			nudge = nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			r.finish(ctx)
			return nil
		case <-nudge:
			t.Stop()
		case <-t.C:
		}
	}
}

// finish makes the last passes of a stopped relay, on a context of their
// own bounded by StopTimeout and StopBy's deadline, until one finds less
// than a batch or fails.
func (r *Relay) finish(ctx context.Context) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.StopTimeout)
	defer cancel()
	if by := r.stopBy.Load(); by != 0 {
		// A pass records what it published up to markGrace after its
		// context ends: that too must be done by the deadline, before the
		// database closes.
		var cancelBy context.CancelFunc
		fctx, cancelBy = context.WithDeadline(fctx, time.Unix(0, by).Add(-markGrace))
		defer cancelBy()
	}
	for {
		n, err := r.RelayOnce(fctx)
		if err != nil {
			_ = level.Warn(r.o.Logger).Log("msg", "outbox relay stopped with events unpublished; they go out at the next start", "err", err)
			return
		}
		if n < r.o.Batch {
			return
		}
	}
}

// pending is one outbox row to publish.
type pending struct {
	seq int64
	ev  events.Event
}

// BatchPublisher is a Publisher that can hand the broker a batch at once
// and wait for all its acknowledgements together (JetStream's asynchronous
// publishing): the relay uses it when the publisher has it.
type BatchPublisher interface {
	Publisher
	// PublishBatch publishes evs in order and reports how many leading
	// events the broker stored, with the error that stopped the next.
	PublishBatch(ctx context.Context, evs []events.Event) (int, error)
}

// RelayOnce publishes at most one batch and reports how many events it
// published. It stops at the first event the publisher refuses: order is
// kept, and that event's attempts count up.
//
// On MySQL and PostgreSQL the batch is locked (FOR UPDATE SKIP LOCKED, at
// READ COMMITTED, the level sqldb opens MySQL sessions at, so that no gap
// lock holds back the service's inserts)
// while it is published. SQLite has a single writer, and a write
// transaction open while the broker answers slowly would stop every write
// of the service: the batch is read outside a transaction and marked in a
// short one afterwards. Two relays on one SQLite file may then publish an
// event twice, which the broker's duplicate window and the inbox absorb.
//
// ctx bounds reading and publishing; what was published is marked even if
// ctx ends meanwhile, within markGrace after it.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	mctx, cancel := afterEnd(ctx, markGrace)
	defer cancel()
	var published int
	var pubErr error
	if r.db.Dialect == sqldb.SQLite {
		rows, err := r.take(ctx, r.db.DB)
		if err != nil {
			return 0, err
		}
		done, failed, perr := r.publish(ctx, rows)
		err = r.db.InTx(mctx, func(tx *sql.Tx) error { return r.mark(ctx, mctx, tx, done, failed) })
		if err != nil {
			return 0, err
		}
		published, pubErr = len(done), perr
	} else {
		// The transaction holding the rows' locks must outlive ctx too, or
		// its end would undo the mark.
		err := r.db.InTx(mctx, func(tx *sql.Tx) error {
			rows, err := r.take(ctx, tx)
			if err != nil {
				return err
			}
			done, failed, perr := r.publish(ctx, rows)
			published, pubErr = len(done), perr
			return r.mark(ctx, mctx, tx, done, failed)
		})
		if err != nil {
			return 0, err
		}
	}
	r.m.published.Add(float64(published))
	return published, pubErr
}

// publish hands rows to the publisher in order, a batch at once when it can,
// and returns the seqs published, the seq of the row refused (0: none) and
// the refusal.
func (r *Relay) publish(ctx context.Context, rows []pending) (done []any, failed int64, err error) {
	done = make([]any, 0, len(rows))
	n := 0
	if bp, ok := r.pub.(BatchPublisher); ok && len(rows) > 0 {
		evs := make([]events.Event, len(rows))
		for i, p := range rows {
			evs[i] = p.ev
		}
		n, err = bp.PublishBatch(ctx, evs)
	} else {
		for _, p := range rows {
			if err = r.pub.Publish(ctx, p.ev); err != nil {
				break
			}
			n++
		}
	}
	for _, p := range rows[:n] {
		done = append(done, p.seq)
	}
	if err != nil && n < len(rows) {
		p := rows[n]
		return done, p.seq, fmt.Errorf("outbox: publish %s %s: %w", p.ev.Type, p.ev.ID, err)
	}
	return done, 0, err
}

// afterEnd returns a context that ends grace after ctx does, or when the
// cancel function is called.
func afterEnd(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return actx, func() { stop(); cancel() }
}

// mark records the batch on ctx: published rows in one statement, and an
// attempt on the refused row unless the pass's context (pass) ended, which
// is no fault of the event's.
func (r *Relay) mark(pass, ctx context.Context, tx *sql.Tx, done []any, failed int64) error {
	if failed != 0 && pass.Err() == nil {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?`, failed); err != nil {
			return fmt.Errorf("outbox: count attempt: %w", err)
		}
	}
	if len(done) == 0 {
		return nil
	}
	args := append([]any{r.o.Now().UTC()}, done...)
	if _, err := tx.ExecContext(ctx,
		`UPDATE outbox SET published_at = ? WHERE seq IN (?`+strings.Repeat(", ?", len(done)-1)+`)`, args...); err != nil {
		return fmt.Errorf("outbox: mark published: %w", err)
	}
	return nil
}

// take reads the oldest unpublished rows, locking them unless on SQLite.
func (r *Relay) take(ctx context.Context, q sqldb.Querier) ([]pending, error) {
	query := `SELECT seq, envelope FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?`
	if r.db.Dialect != sqldb.SQLite {
		// Rows another relay holds are skipped, not waited for.
		query += ` FOR UPDATE SKIP LOCKED`
	}
	rows, err := q.QueryContext(ctx, query, r.o.Batch)
	if err != nil {
		return nil, fmt.Errorf("outbox: read: %w", err)
	}
	defer rows.Close()
	var out []pending
	for rows.Next() {
		var p pending
		var raw string
		if err := rows.Scan(&p.seq, &raw); err != nil {
			return nil, fmt.Errorf("outbox: read: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &p.ev); err != nil {
			return nil, fmt.Errorf("outbox: row %d: %w", p.seq, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outbox: read: %w", err)
	}
	return out, nil
}

// Backlog counts the events not yet published.
func (r *Relay) Backlog(ctx context.Context) (int, error) {
	var n int
	if err := r.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("outbox: backlog: %w", err)
	}
	return n, nil
}

func (r *Relay) updateBacklog(ctx context.Context) error {
	n, err := r.Backlog(ctx)
	if err != nil {
		return err
	}
	r.m.backlog.Set(float64(n))
	return nil
}

// Purge deletes the rows published longer ago than the retention and
// reports how many.
func (r *Relay) Purge(ctx context.Context) (int64, error) {
	before := r.o.Now().UTC().Add(-r.o.Retention)
	q := sqldb.PurgeQuery(r.db.Dialect, "outbox", "seq", "published_at IS NOT NULL AND published_at < ?", "seq")
	n, err := sqldb.Purge(ctx, r.db.ExecContext, q, before)
	r.m.purged.Add(float64(n))
	if err != nil {
		return n, fmt.Errorf("outbox: purge: %w", err)
	}
	return n, nil
}
