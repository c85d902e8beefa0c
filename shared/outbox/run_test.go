package outbox_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// counting is a broker that is down and counts the relay's tries.
type counting struct{ tries atomic.Int32 }

func (p *counting) Publish(context.Context, events.Event) error {
	p.tries.Add(1)
	return errors.New("broker away")
}

// While the broker is away the relay waits longer after each failure, from
// Interval up to MaxBackoff, and the nudges of a busy service's commits do
// not send it at the broker any sooner.
func TestAFailingRelayBacksOffWhateverItIsNudged(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		write(t, db, "auth", 1)
		pub := &counting{}
		r := outbox.NewRelay(db, pub, outbox.RelayOptions{Interval: 20 * time.Millisecond, MaxBackoff: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); _ = r.Run(ctx) }()

		// Tries at 0, 20, 60, 140, 300, 620 ms and 1.26 s: 6 within 1.2 s,
		// where a relay keeping to Interval would make 60.
		end := time.Now().Add(1200 * time.Millisecond)
		for time.Now().Before(end) {
			r.Notify()
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-stopped
		tries := pub.tries.Load()
		assert.GreaterOrEqual(t, tries, int32(3), "the relay keeps trying")
		// The stopped relay makes one last pass, and a slow database may
		// let one more in.
		assert.LessOrEqual(t, tries, int32(9), "tries within 1.2 s of a broker outage")
	})
}

// A pass that finds a full batch is followed by the next at once, not
// after Interval: a backlog drains as fast as the broker takes it.
func TestAFullBatchIsFollowedAtOnce(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		ids := write(t, db, "auth", 5)
		pub := &recording{}
		r := outbox.NewRelay(db, pub, outbox.RelayOptions{Interval: time.Hour, Batch: 2})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); _ = r.Run(ctx) }()
		defer func() { cancel(); <-stopped }()
		require.Eventually(t, func() bool {
			backlog, err := r.Backlog(context.Background())
			return err == nil && backlog == 0
		}, 5*time.Second, 20*time.Millisecond, "three passes, without waiting the hour between them")
		pub.mu.Lock()
		defer pub.mu.Unlock()
		assert.Equal(t, ids, pub.ids)
	})
}

// holding is a broker that keeps the relay's first publish until released.
type holding struct {
	recording
	held     chan struct{}
	released chan struct{}
}

func (p *holding) Publish(ctx context.Context, ev events.Event) error {
	select {
	case p.held <- struct{}{}:
		<-p.released
	default:
	}
	return p.recording.Publish(ctx, ev)
}

// On MySQL and PostgreSQL a relay skips the rows another relay has taken
// rather than waiting for them: it publishes the next ones meanwhile.
func TestARelaySkipsTheRowsAnotherHolds(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		if db.Dialect == sqldb.SQLite {
			return // one writer, no row locks: relays there may publish an event twice
		}
		ids := write(t, db, "auth", 5)
		first := &holding{held: make(chan struct{}), released: make(chan struct{})}
		done := make(chan error, 1)
		go func() {
			_, err := outbox.NewRelay(db, first, outbox.RelayOptions{Batch: 2}).RelayOnce(context.Background())
			done <- err
		}()
		select {
		case <-first.held:
		case <-time.After(5 * time.Second):
			t.Fatal("the first relay did not publish")
		}
		second := &recording{}
		// Waiting for the first relay's locks would last the server's lock
		// timeout (50 s on MariaDB), far past this bound.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := outbox.NewRelay(db, second, outbox.RelayOptions{Batch: 10}).RelayOnce(ctx)
		close(first.released)
		require.NoError(t, err, "the second relay did not wait for the first's rows")
		assert.Equal(t, 3, n)
		assert.Equal(t, ids[2:], second.ids)
		require.NoError(t, <-done)
		assert.Equal(t, ids[:2], first.ids)
	})
}
