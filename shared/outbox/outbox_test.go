package outbox_test

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

//go:embed testdata/migrations
var embedded embed.FS

func migrations(t *testing.T) fs.FS {
	sub, err := fs.Sub(embedded, "testdata/migrations")
	require.NoError(t, err)
	return sub
}

func TestWriteIsPartOfTheTransaction(t *testing.T) {
	sqltest.Each(t, migrations(t), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		ev, err := events.New("appointment.booked", 1, "a1", map[string]string{"doctorId": "d1"}, time.Now())
		require.NoError(t, err)

		rollback := errors.New("rolled back")
		err = db.InTx(ctx, func(tx *sql.Tx) error {
			require.NoError(t, outbox.Write(ctx, tx, ev))
			return rollback
		})
		require.ErrorIs(t, err, rollback)
		var n int
		require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&n))
		assert.Zero(t, n, "a rolled back change leaves no event")

		require.NoError(t, db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Write(ctx, tx, ev) }))
		var raw string
		var published sql.NullTime
		require.NoError(t, db.QueryRowContext(ctx,
			`SELECT envelope, published_at FROM outbox WHERE event_id = ?`, ev.ID).Scan(&raw, &published))
		assert.False(t, published.Valid)
		var got events.Event
		require.NoError(t, json.Unmarshal([]byte(raw), &got))
		assert.Equal(t, ev.ID, got.ID)
		assert.Equal(t, ev.Type, got.Type)
		assert.JSONEq(t, string(ev.Data), string(got.Data))

		err = db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Write(ctx, tx, ev) })
		assert.True(t, sqldb.IsUniqueViolation(err), "an event id is written once: %v", err)
	})
}
