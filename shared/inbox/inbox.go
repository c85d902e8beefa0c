// Package inbox makes a consumer's effect happen once per event: the event
// id is claimed in the transaction of the effect, so a redelivered event
// finds its claim and changes nothing.
//
// Every consumer's database holds this table, in its own migrations:
//
//	processed_events(
//	  event_id     VARCHAR(36) NOT NULL PRIMARY KEY,
//	  type         VARCHAR(100) NOT NULL,
//	  processed_at timestamp NOT NULL
//	)
//
// with an index on processed_at, which Purge deletes by.
package inbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
)

// Retention is how long a claim is kept. A redelivery from the broker
// comes within the producer's stream's 7 days (StreamMaxAge), a reset
// durable's replay of that stream too; 30 days leaves a margin over them,
// and over a dead letter replayed twice when a crash left it in place after
// its first replay (ADR 0025). A duplicate later still finds the consumers'
// own checks: an appointment's or patient's version, a status already set,
// a slot or a reset link past its time.
const Retention = 30 * 24 * time.Hour

// Purge deletes the claims made before before, in chunks, and reports how
// many went.
func Purge(ctx context.Context, db Execer, dialect sqldb.Dialect, before time.Time) (int64, error) {
	q := sqldb.PurgeQuery(dialect, "processed_events", "event_id", "processed_at < ?", "processed_at")
	n, err := sqldb.Purge(ctx, db.ExecContext, q, before.UTC())
	if err != nil {
		return n, fmt.Errorf("inbox: purge: %w", err)
	}
	return n, nil
}

// Execer is what Claim needs of a transaction: *sql.Tx has it.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// ErrInvalidID is Claim's refusal of an event id that is not a UUID.
var ErrInvalidID = errors.New("the event id is not a UUID")

// Claim records ev as processed inside tx and reports whether this is its
// first delivery. On false the caller commits nothing else: the effect
// happened when the event was first claimed. A concurrent delivery of the
// same event waits for the first one's transaction, then finds its claim.
func Claim(ctx context.Context, tx Execer, dialect sqldb.Dialect, ev events.Event, now time.Time) (bool, error) {
	if !ids.Valid(ev.ID) {
		// Every producer writes UUIDs; another id might not fit the column,
		// and a server not in strict mode would cut it to another event's
		// claim, the event then taken for a redelivery.
		return false, fmt.Errorf("inbox: claim %q: %w", ev.ID, ErrInvalidID)
	}
	res, err := tx.ExecContext(ctx, insertIgnore[dialect], ev.ID, ev.Type, now.UTC())
	if err != nil && dialect == sqldb.MySQL && sqldb.IsUniqueViolation(err) {
		// The claim exists; MySQL undoes the statement alone, not the
		// transaction.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("inbox: claim %s: %w", ev.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("inbox: claim %s: %w", ev.ID, err)
	}
	return n == 1, nil
}

// insertIgnore inserts a claim unless one exists, without an error that
// would abort a PostgreSQL transaction. MySQL's is a plain INSERT whose
// duplicate key Claim reads as the existing claim: INSERT IGNORE would also
// make a warning of every other error, an id too long for the column cut
// to the claim of another event among them, and ON DUPLICATE KEY counts a
// found row as changed under the CLIENT_FOUND_ROWS sqldb sets.
var insertIgnore = map[sqldb.Dialect]string{
	sqldb.SQLite:   `INSERT OR IGNORE INTO processed_events (event_id, type, processed_at) VALUES (?, ?, ?)`,
	sqldb.MySQL:    `INSERT INTO processed_events (event_id, type, processed_at) VALUES (?, ?, ?)`,
	sqldb.Postgres: `INSERT INTO processed_events (event_id, type, processed_at) VALUES (?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
}
