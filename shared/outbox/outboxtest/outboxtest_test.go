package outboxtest_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// The outbox package's own migrations, one folder per dialect.
var migrations = os.DirFS("../testdata/migrations")

func TestEventsAndEnvelopesReadTheOutboxInOrder(t *testing.T) {
	sqltest.Each(t, migrations, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		assert.Empty(t, outboxtest.Events(t, db, ""), "an empty outbox")
		assert.Empty(t, outboxtest.Envelopes(t, db, ""))

		now := time.Date(2030, 1, 15, 10, 0, 0, 0, time.UTC)
		var written []events.Event
		for i, w := range []struct{ typ, subject string }{
			{"appointment.booked", "a1"}, {"appointment.cancelled", "a2"}, {"appointment.booked", "a3"},
		} {
			ev, err := events.New(w.typ, 1, w.subject, map[string]int{"n": i}, now)
			require.NoError(t, err)
			written = append(written, ev)
		}
		for _, ev := range written {
			require.NoError(t, db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Write(ctx, tx, ev) }))
		}

		ids := func(evs []events.Event) []string {
			var out []string
			for _, ev := range evs {
				out = append(out, ev.ID)
			}
			return out
		}
		all := outboxtest.Events(t, db, "")
		assert.Equal(t, []string{written[0].ID, written[1].ID, written[2].ID}, ids(all), "every type, in the order written")
		booked := outboxtest.Events(t, db, "appointment.booked")
		assert.Equal(t, []string{written[0].ID, written[2].ID}, ids(booked), "one type")
		assert.Empty(t, outboxtest.Events(t, db, "appointment.rescheduled"), "a type never written")
		require.Len(t, booked, 2)
		assert.Equal(t, "a3", booked[1].Subject)
		assert.JSONEq(t, `{"n":2}`, string(booked[1].Data))

		envelopes := outboxtest.Envelopes(t, db, "appointment.booked")
		require.Len(t, envelopes, 2, "the envelopes of the same events")
		for i, raw := range envelopes {
			want, err := json.Marshal(written[2*i])
			require.NoError(t, err)
			assert.Equal(t, string(want), raw, "the envelope as written")
		}
		assert.Len(t, outboxtest.Envelopes(t, db, ""), 3)
	})
}
