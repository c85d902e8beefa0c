package sqlstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// 00004 replaces the two indexes by covering ones. A fresh MariaDB
// database migrated once must hold them, as it did before the migration
// was made re-runnable: in one ALTER TABLE, "DROP INDEX IF EXISTS x, ADD
// INDEX IF NOT EXISTS x (...)" drops x and then skips the ADD, since x still
// existed when the statement began.
func TestCoveringIndexesSurviveTheMigrationOnMariaDB(t *testing.T) {
	db := sqltest.MySQL(t, sqlstore.Migrations())
	rows, err := db.QueryContext(context.Background(), `SELECT DISTINCT index_name FROM information_schema.statistics
		WHERE table_schema = DATABASE() AND table_name = 'appointments' ORDER BY index_name`)
	require.NoError(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	assert.Contains(t, names, "appointments_doctor", "indexes: %v", names)
	assert.Contains(t, names, "appointments_patient", "indexes: %v", names)
}
