package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/doctor/service/repotest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestRepositoryContract runs the repository contract on SQLite and
// MariaDB. Each part of the suite starts from an empty store.
func TestRepositoryContract(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		repotest.Run(t, func(t *testing.T) service.Repository {
			empty(t, db)
			return sqlstore.New(db)
		})
	})
}

// empty deletes every row, children before parents.
func empty(t *testing.T, db *sqldb.DB) {
	t.Helper()
	for _, table := range []string{
		"availability_exception_intervals", "availability_exceptions", "availability_weekly", "availability",
		"doctor_name_tokens", "doctor_languages", "doctor_specializations", "doctors", "specializations",
	} {
		_, err := db.ExecContext(context.Background(), "DELETE FROM "+table)
		require.NoError(t, err, table)
	}
}
