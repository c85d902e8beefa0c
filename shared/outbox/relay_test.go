package outbox_test

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"io/fs"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/broker"
	"github.com/medisync/medisync/shared/broker/brokertest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/inbox"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// recording publishes nowhere and remembers the order; failOn makes the
// publish of that call number (1-based) fail.
type recording struct {
	mu     sync.Mutex
	ids    []string
	calls  int
	failOn int
}

func (p *recording) Publish(_ context.Context, ev events.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.calls == p.failOn {
		return errors.New("broker away")
	}
	p.ids = append(p.ids, ev.ID)
	return nil
}

func write(t *testing.T, db *sqldb.DB, producer string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	require.NoError(t, db.InTx(context.Background(), func(tx *sql.Tx) error {
		for i := range n {
			ev, err := events.New(producer+".thing_done", 1, "s", map[string]int{"i": i}, time.Now())
			require.NoError(t, err)
			ids[i] = ev.ID
			if err := outbox.Write(context.Background(), tx, ev); err != nil {
				return err
			}
		}
		return nil
	}))
	return ids
}

func TestRelayPublishesInOrderAndMarks(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ids := write(t, db, "auth", 5)
		pub := &recording{failOn: 3}
		r := outbox.NewRelay(db, pub, outbox.RelayOptions{Batch: 10})

		n, err := r.RelayOnce(ctx)
		require.Error(t, err, "the third publish fails")
		assert.Equal(t, 2, n)
		var attempts int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT attempts FROM outbox WHERE event_id = ?`, ids[2]).Scan(&attempts))
		assert.Equal(t, 1, attempts)
		backlog, err := r.Backlog(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, backlog)

		n, err = r.RelayOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		assert.Equal(t, ids, pub.ids, "in the order written, each once")
		n, err = r.RelayOnce(ctx)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// The relay takes the oldest events first whatever order the database
// keeps its rows in: on PostgreSQL an updated row (an attempt counted) moves
// to the end of the table, which a scan of a large backlog reads in.
func TestRelayTakesTheOldestFirst(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ids := write(t, db, "auth", 50)
		for _, id := range ids[:10] {
			_, err := db.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1 WHERE event_id = ?`, id)
			require.NoError(t, err)
		}
		analyze := map[sqldb.Dialect]string{sqldb.SQLite: `ANALYZE`, sqldb.MySQL: `ANALYZE TABLE outbox`, sqldb.Postgres: `ANALYZE outbox`}
		_, err := db.ExecContext(ctx, analyze[db.Dialect])
		require.NoError(t, err)
		pub := &recording{}
		n, err := outbox.NewRelay(db, pub, outbox.RelayOptions{Batch: 20}).RelayOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 20, n)
		assert.Equal(t, ids[:20], pub.ids, "the first twenty written")
	})
}

func TestRelaysShareTheWork(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ids := write(t, db, "auth", 300)
		pub := &recording{}
		var wg sync.WaitGroup
		for range 4 {
			r := outbox.NewRelay(db, pub, outbox.RelayOptions{Batch: 7})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := r.RelayOnce(ctx)
					if err != nil {
						// A lock wait the database gave up on; try again.
						require.True(t, sqldb.IsRetryable(err), "%v", err)
						continue
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		if db.Dialect == sqldb.SQLite {
			// SQLite relays publish outside the database's single write
			// lock, so two on one file may both publish an event: the
			// broker's duplicate window and the inbox absorb it.
			assert.ElementsMatch(t, ids, slices.Compact(slices.Sorted(slices.Values(pub.ids))), "every event published")
			return
		}
		assert.ElementsMatch(t, ids, pub.ids, "every event published once")
	})
}

func TestPurgeDeletesOldPublishedRows(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		now := time.Date(2027, 3, 15, 12, 0, 0, 0, time.UTC)
		ids := write(t, db, "auth", 4)
		_, err := db.ExecContext(ctx, `UPDATE outbox SET published_at = ? WHERE event_id = ?`, now.Add(-8*24*time.Hour), ids[0])
		require.NoError(t, err)
		_, err = db.ExecContext(ctx, `UPDATE outbox SET published_at = ? WHERE event_id = ?`, now.Add(-time.Hour), ids[1])
		require.NoError(t, err)
		// Published just at the retention's cut-off: not older than it.
		_, err = db.ExecContext(ctx, `UPDATE outbox SET published_at = ? WHERE event_id = ?`, now.Add(-7*24*time.Hour), ids[2])
		require.NoError(t, err)
		r := outbox.NewRelay(db, &recording{}, outbox.RelayOptions{Now: func() time.Time { return now }})
		n, err := r.Purge(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(1), n)
		var left []string
		rows, err := db.QueryContext(ctx, `SELECT event_id FROM outbox ORDER BY seq`)
		require.NoError(t, err)
		for rows.Next() {
			var id string
			require.NoError(t, rows.Scan(&id))
			left = append(left, id)
		}
		require.NoError(t, rows.Err())
		assert.Equal(t, ids[1:], left, "recent, cut-off and unpublished rows stay")
	})
}

//go:embed testdata/consumer
var consumerFS embed.FS

// effects is a consumer whose effect (a row per event) happens once per
// event through the inbox, in a SQLite database of its own.
type effects struct {
	db *sqldb.DB
	// failAfterCommit makes the first delivery of an event fail after its
	// effect committed, as if the ack were lost: the broker delivers again.
	failAfterCommit bool
	mu              sync.Mutex
	failed          map[string]bool
}

func newEffects(t *testing.T) *effects {
	sub, err := fs.Sub(consumerFS, "testdata/consumer")
	require.NoError(t, err)
	return &effects{db: sqltest.SQLite(t, sub), failed: map[string]bool{}}
}

func (e *effects) handle(ctx context.Context, ev events.Event) error {
	err := e.db.InTx(ctx, func(tx *sql.Tx) error {
		fresh, err := inbox.Claim(ctx, tx, e.db.Dialect, ev, time.Now())
		if err != nil || !fresh {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO effects (event_id) VALUES (?)`, ev.ID)
		return err
	})
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failAfterCommit && !e.failed[ev.ID] {
		e.failed[ev.ID] = true
		return errors.New("ack lost")
	}
	return nil
}

// await waits until every id has its effect, then checks each has one.
func (e *effects) await(t *testing.T, ids []string) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, e.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM effects`).Scan(&n))
		return n >= len(ids)
	}, 30*time.Second, 20*time.Millisecond)
	rows, err := e.db.QueryContext(context.Background(), `SELECT event_id, COUNT(*) FROM effects GROUP BY event_id`)
	require.NoError(t, err)
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		require.NoError(t, rows.Scan(&id, &n))
		got[id] = n
	}
	require.NoError(t, rows.Err())
	assert.Len(t, got, len(ids))
	for _, id := range ids {
		assert.Equal(t, 1, got[id], "one effect for %s", id)
	}
}

func consume(t *testing.T, b broker.Broker, producer string, h broker.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		assert.NoError(t, b.Consume(ctx, broker.Consumer{Name: "effects", Types: []string{producer + ".thing_done"}, Handler: h, Backoff: 10 * time.Millisecond}))
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// crashing publishes through pub, then after n events stops the relay
// as a crash would, by panicking: published, never marked. (An ended
// context is no crash: the relay marks what it published even so.)
type crashing struct {
	pub outbox.Publisher
	n   int
}

func (c *crashing) Publish(ctx context.Context, ev events.Event) error {
	if err := c.pub.Publish(ctx, ev); err != nil {
		return err
	}
	c.n--
	if c.n == 0 {
		panic("crash")
	}
	return nil
}

func openBroker(t *testing.T, url string) broker.Broker {
	t.Helper()
	b, err := broker.Open(context.Background(), url, broker.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestEveryEventArrivesOnceThroughCrashesAndOutages(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		nats := brokertest.Embedded(t)
		b := openBroker(t, nats.URL())
		producer := brokertest.Name("p")

		t.Run("a relay that dies after publishing, before marking", func(t *testing.T) {
			eff := newEffects(t)
			consume(t, b, producer, eff.handle)
			_, _ = db.ExecContext(context.Background(), `DELETE FROM outbox`)
			ids := write(t, db, producer, 20)
			dying := outbox.NewRelay(db, &crashing{pub: b, n: 12}, outbox.RelayOptions{Batch: 20})
			require.Panics(t, func() { _, _ = dying.RelayOnce(context.Background()) }, "the transaction that would mark them is lost")
			backlog, err := dying.Backlog(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 20, backlog, "nothing marked")

			restarted := outbox.NewRelay(db, b, outbox.RelayOptions{})
			n, err := restarted.RelayOnce(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 20, n)
			eff.await(t, ids)
		})

		t.Run("writes go on while the broker is down; all arrive after it returns", func(t *testing.T) {
			eff := newEffects(t)
			consume(t, b, producer, eff.handle)
			_, _ = db.ExecContext(context.Background(), `DELETE FROM outbox`)
			nats.Stop()
			ids := write(t, db, producer, 30)
			r := outbox.NewRelay(db, b, outbox.RelayOptions{Interval: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
			_, err := r.RelayOnce(context.Background())
			require.Error(t, err)
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			go func() { defer close(stopped); _ = r.Run(ctx) }()
			nats.Start()
			eff.await(t, ids)
			cancel()
			<-stopped
			backlog, err := r.Backlog(context.Background())
			require.NoError(t, err)
			assert.Zero(t, backlog)
		})

		t.Run("an event delivered twice has one effect", func(t *testing.T) {
			eff := newEffects(t)
			eff.failAfterCommit = true
			consume(t, b, producer, eff.handle)
			_, _ = db.ExecContext(context.Background(), `DELETE FROM outbox`)
			ids := write(t, db, producer, 10)
			_, err := outbox.NewRelay(db, b, outbox.RelayOptions{}).RelayOnce(context.Background())
			require.NoError(t, err)
			eff.await(t, ids)
			require.Eventually(t, func() bool {
				eff.mu.Lock()
				defer eff.mu.Unlock()
				return len(eff.failed) == len(ids)
			}, 10*time.Second, 10*time.Millisecond, "each was delivered at least twice")
			eff.await(t, ids)
		})
	})
}

// A relay stopped just after the last requests committed their events
// publishes them before Run returns, whole batches of them: the service
// stops it after the requests drain for that.
func TestStoppedRelayPublishesTheLastEvents(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		b := openBroker(t, brokertest.Embedded(t).URL())
		producer := brokertest.Name("p")
		eff := newEffects(t)
		consume(t, b, producer, eff.handle)
		// An interval longer than the test: only a pass at the stop can
		// publish what is written once the relay idles.
		r := outbox.NewRelay(db, b, outbox.RelayOptions{Interval: time.Hour, Batch: 2, StopTimeout: 20 * time.Second})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); _ = r.Run(ctx) }()
		time.Sleep(100 * time.Millisecond) // past its first pass
		ids := write(t, db, producer, 5)
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Fatal("the relay did not stop")
		}
		backlog, err := r.Backlog(context.Background())
		require.NoError(t, err)
		require.Zero(t, backlog, "published and marked before Run returned")
		eff.await(t, ids)
	})
}

// stalled is a broker that never answers: its publishes end with their
// context.
type stalled struct{}

func (stalled) Publish(ctx context.Context, _ events.Event) error {
	<-ctx.Done()
	return ctx.Err()
}

// A stopped relay's last passes end by the deadline StopBy set, earlier
// than StopTimeout: the shutdown that stops it has its own budget, and a
// pass under way when it stops is cut too rather than holding the stop.
func TestStoppedRelayKeepsToTheStopDeadline(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		write(t, db, "auth", 3)
		r := outbox.NewRelay(db, stalled{}, outbox.RelayOptions{Interval: time.Hour, StopTimeout: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); _ = r.Run(ctx) }()
		time.Sleep(100 * time.Millisecond) // publishing to the stalled broker
		r.StopBy(time.Now().Add(200 * time.Millisecond))
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatal("the relay kept to its StopTimeout, past the stop deadline")
		}
		backlog, err := r.Backlog(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 3, backlog, "left for the next start")
		var attempts int
		require.NoError(t, db.QueryRowContext(context.Background(), `SELECT MAX(attempts) FROM outbox`).Scan(&attempts))
		assert.Zero(t, attempts, "a pass cut by the stop counts no failed attempt")
	})
}

// acking is a broker that stores a batch, acknowledges it and meanwhile
// sees the pass's context end (the stop deadline, say).
type acking struct {
	batching
	cut context.CancelFunc
}

func (p *acking) PublishBatch(ctx context.Context, evs []events.Event) (int, error) {
	n, err := p.batching.PublishBatch(ctx, evs)
	p.cut()
	return n, err
}

// Events the broker acknowledged are marked published even when the pass's
// context ends before the mark: otherwise the next start publishes them
// again.
func TestAcknowledgedEventsAreMarkedWhenThePassIsCut(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		ids := write(t, db, "auth", 3)
		ctx, cancel := context.WithCancel(context.Background())
		pub := &acking{batching: batching{stored: 3}, cut: cancel}
		n, err := outbox.NewRelay(db, pub, outbox.RelayOptions{Batch: 10}).RelayOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		assert.Equal(t, ids, pub.ids)
		var backlog int
		require.NoError(t, db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`).Scan(&backlog))
		assert.Zero(t, backlog, "marked as published")
	})
}

// inserting writes one event in a transaction of its own while the relay
// publishes: the relay's batch must not hold back the service's writes.
type inserting struct {
	t   *testing.T
	db  *sqldb.DB
	err error
}

func (p *inserting) Publish(ctx context.Context, _ events.Event) error {
	if p.err == nil {
		wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		ev, err := events.New("auth.thing_done", 1, "s", map[string]int{}, time.Now())
		require.NoError(p.t, err)
		p.err = p.db.InTx(wctx, func(tx *sql.Tx) error { return outbox.Write(wctx, tx, ev) })
		if p.err == nil {
			p.err = errors.New("done") // once is enough
		}
	}
	return nil
}

func TestPublishingHoldsNoLockOnNewEvents(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		write(t, db, "auth", 3)
		pub := &inserting{t: t, db: db}
		n, err := outbox.NewRelay(db, pub, outbox.RelayOptions{Batch: 10}).RelayOnce(context.Background())
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		assert.EqualError(t, pub.err, "done", "a write while the relay publishes commits")
	})
}

// batching is a BatchPublisher storing the first stored events of each batch.
type batching struct {
	recording
	stored  int
	batches int
}

func (p *batching) PublishBatch(_ context.Context, evs []events.Event) (int, error) {
	p.batches++
	n := min(p.stored, len(evs))
	for _, ev := range evs[:n] {
		p.ids = append(p.ids, ev.ID)
	}
	p.stored -= n
	if n < len(evs) {
		return n, errors.New("broker away")
	}
	return n, nil
}

func TestRelayHandsBatchesToABatchPublisher(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ids := write(t, db, "auth", 5)
		pub := &batching{stored: 2}
		r := outbox.NewRelay(db, pub, outbox.RelayOptions{Batch: 10})
		n, err := r.RelayOnce(ctx)
		require.ErrorContains(t, err, ids[2], "the first event refused is named")
		assert.Equal(t, 2, n)
		var attempts int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT attempts FROM outbox WHERE event_id = ?`, ids[2]).Scan(&attempts))
		assert.Equal(t, 1, attempts)
		pub.stored = 10
		n, err = r.RelayOnce(ctx)
		require.NoError(t, err)
		assert.Equal(t, 3, n)
		assert.Equal(t, ids, pub.ids)
		assert.Equal(t, 2, pub.batches)
		assert.Zero(t, pub.calls, "no event published alone")
	})
}
