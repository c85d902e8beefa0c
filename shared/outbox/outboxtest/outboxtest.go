// Package outboxtest reads what a service wrote to its outbox, for tests.
package outboxtest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/sqldb"
)

// Events are the events of eventType ("" for every type) that db's outbox
// holds, in the order the relay publishes them.
func Events(t testing.TB, db *sqldb.DB, eventType string) []events.Event {
	t.Helper()
	var out []events.Event
	for _, raw := range Envelopes(t, db, eventType) {
		var ev events.Event
		require.NoError(t, json.Unmarshal([]byte(raw), &ev))
		out = append(out, ev)
	}
	return out
}

// Envelopes are the envelopes of the events Events reads, in the same order,
// as the outbox stores them: the text the relay publishes, for a test that
// asserts what it does not carry.
func Envelopes(t testing.TB, db *sqldb.DB, eventType string) []string {
	t.Helper()
	q, args := `SELECT envelope FROM outbox ORDER BY seq`, []any(nil)
	if eventType != "" {
		q, args = `SELECT envelope FROM outbox WHERE type = ? ORDER BY seq`, []any{eventType}
	}
	rows, err := db.QueryContext(context.Background(), q, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var raw string
		require.NoError(t, rows.Scan(&raw))
		out = append(out, raw)
	}
	require.NoError(t, rows.Err())
	return out
}
