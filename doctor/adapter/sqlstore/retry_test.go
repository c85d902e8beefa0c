package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestTransactionsAbortedByConcurrentOnesRunAgain checks, on every database,
// that a transaction aborted by a deadlock or a serialization failure, as
// any of the three drivers reports it, runs again, and that other errors
// are returned at once.
func TestTransactionsAbortedByConcurrentOnesRunAgain(t *testing.T) {
	sqltest.Each(t, Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := New(db)
		ctx := context.Background()
		for _, retryable := range []error{
			&pgconn.PgError{Code: "40001"}, // serialization failure
			&pgconn.PgError{Code: "40P01"}, // deadlock detected
			&mysql.MySQLError{Number: 1213},
		} {
			runs := 0
			err := s.inTx(ctx, func(tx *sql.Tx) error {
				runs++
				if runs == 1 {
					return retryable
				}
				return nil
			})
			assert.NoError(t, err, "%v", retryable)
			assert.Equal(t, 2, runs, "%v", retryable)
		}

		runs := 0
		always := &pgconn.PgError{Code: "40001"}
		err := s.inTx(ctx, func(tx *sql.Tx) error { runs++; return always })
		assert.ErrorIs(t, err, always)
		assert.Equal(t, maxTxAttempts, runs, "retries are bounded")

		runs = 0
		other := errors.New("constraint")
		err = s.inTx(ctx, func(tx *sql.Tx) error { runs++; return other })
		assert.ErrorIs(t, err, other)
		assert.Equal(t, 1, runs, "other errors are not retried")
	})
}
