package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestRepositoryContract(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		first := true
		repotest.Run(t, func(t *testing.T) repotest.Fixture {
			// Each case needs empty tables: the first uses the fresh
			// database, the others start from a cleared one.
			if !first {
				for _, table := range []string{"appointments", "idempotency_keys", "outbox"} {
					_, err := db.ExecContext(context.Background(), "DELETE FROM "+table)
					require.NoError(t, err)
				}
			}
			first = false
			return repotest.Fixture{Repo: sqlstore.New(db), Count: func(t *testing.T, table string) int {
				var n int
				require.NoError(t, db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n))
				return n
			}}
		})
	})
}
