package sqlstore_test

import (
	"testing"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A start cut short inside a MySQL migration leaves its first statements
// applied (MariaDB commits DDL as it goes): the next start runs it again.
func TestMySQLMigrationsCanRunAgainOverThemselves(t *testing.T) {
	sqltest.MySQLMigrationsRunAgain(t, sqlstore.Migrations())
}
