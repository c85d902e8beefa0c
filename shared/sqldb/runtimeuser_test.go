package sqldb_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// accessDenied reports the servers' refusals for lack of a right: MySQL's
// table, database or command denied; PostgreSQL's insufficient privilege.
func accessDenied(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1142 || me.Number == 1044 || me.Number == 1045 || me.Number == 1227 || me.Number == 1370
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}

func TestRuntimeUserHoldsDataRightsOnly(t *testing.T) {
	for _, tc := range []struct {
		name    string
		open    func(t testing.TB) (owner, runtime *sqldb.DB)
		trigger string
	}{
		{"mysql", func(t testing.TB) (*sqldb.DB, *sqldb.DB) { return sqltest.MySQLWithRuntimeUser(t, migrations) },
			"CREATE TRIGGER items_bi BEFORE INSERT ON items FOR EACH ROW SET NEW.name = NEW.name"},
		{"postgres", func(t testing.TB) (*sqldb.DB, *sqldb.DB) { return sqltest.PostgresWithRuntimeUser(t, migrations) },
			"CREATE TRIGGER items_bu BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner, runtime := tc.open(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			_, err := runtime.ExecContext(ctx, "INSERT INTO items (id, name, created_at) VALUES ('a', 'first', ?)", time.Now())
			require.NoError(t, err, "insert")
			_, err = runtime.ExecContext(ctx, "UPDATE items SET name = 'renamed' WHERE id = 'a'")
			require.NoError(t, err, "update")
			var name string
			require.NoError(t, owner.QueryRowContext(ctx, "SELECT name FROM items WHERE id = 'a'").Scan(&name))
			assert.Equal(t, "renamed", name, "the owner sees the runtime user's writes")
			_, err = runtime.ExecContext(ctx, "DELETE FROM items WHERE id = 'a'")
			require.NoError(t, err, "delete")

			for _, stmt := range []string{
				"CREATE TABLE extra (id INT PRIMARY KEY)",
				"ALTER TABLE items ADD COLUMN note TEXT",
				"DROP TABLE links",
				tc.trigger,
				"CREATE INDEX items_created ON items (created_at)",
			} {
				_, err := runtime.ExecContext(ctx, stmt)
				assert.Truef(t, accessDenied(err), "%s: want access denied, got %v", stmt, err)
			}
			_, err = owner.ExecContext(ctx, "CREATE TABLE extra (id INT PRIMARY KEY)")
			assert.NoError(t, err, "the owner keeps every right")
		})
	}
}
