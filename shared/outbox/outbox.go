// Package outbox writes events in the transaction of the change they
// describe, so that a committed change always has its event and a rolled
// back one never does; a relay publishes them afterwards.
//
// Every producer's database holds this table, in its own migrations (the
// statements for each dialect are in testdata/migrations):
//
//	outbox(
//	  seq          auto-increment primary key: the order of publication,
//	  event_id     VARCHAR(36) NOT NULL UNIQUE,
//	  type         VARCHAR(100) NOT NULL,
//	  subject      VARCHAR(100) NOT NULL,
//	  envelope     text NOT NULL: the whole JSON envelope, published as is,
//	  created_at   timestamp NOT NULL,
//	  published_at timestamp NULL: set by the relay once the broker has it,
//	  attempts     INT NOT NULL DEFAULT 0
//	)
//
// with an index on (published_at, seq) for the relay's scan.
package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/tracing"
)

// Execer is what Write needs of a transaction: *sql.Tx has it.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Write adds evs to the outbox through tx, which must be the transaction
// that makes the change they describe. An event without a traceparent takes
// the one of ctx's span, so that its consumers continue the request's trace.
func Write(ctx context.Context, tx Execer, evs ...events.Event) error {
	traceparent := tracing.TraceParent(ctx)
	for _, ev := range evs {
		if ev.TraceParent == "" {
			ev.TraceParent = traceparent
		}
		raw, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("outbox: encode %s: %w", ev.Type, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO outbox (event_id, type, subject, envelope, created_at, attempts) VALUES (?, ?, ?, ?, ?, 0)`,
			ev.ID, ev.Type, ev.Subject, string(raw), ev.Time.UTC(),
		); err != nil {
			return fmt.Errorf("outbox: write %s: %w", ev.Type, err)
		}
	}
	return nil
}
