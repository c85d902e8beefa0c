package sqlstore_test

import (
	"testing"

	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/notification/service/repotest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestRepository(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		repotest.RunRepositoryContract(t, func(t *testing.T) service.Repository {
			// Each subtest cleans what it shares the database with.
			for _, table := range []string{"processed_events", "users", "preferences", "notifications", "deliveries", "reminders", "held_mails", "slot_offers"} {
				if _, err := db.Exec("DELETE FROM " + table); err != nil {
					t.Fatal(err)
				}
			}
			return sqlstore.New(db)
		})
	})
}
