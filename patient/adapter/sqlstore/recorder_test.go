package sqlstore_test

import (
	"context"
	"testing"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/patient/service/servicetest"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestRecorderContract runs the recorder suite over the group-commit
// recorder writing to this store.
func TestRecorderContract(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		servicetest.RunAuditRecorderContract(t, func(t *testing.T) (service.AuditRecorder, service.AuditRepository) {
			store := sqlstore.New(db)
			b := auditlog.New[patient.AuditEvent](store, auditlog.Options{})
			t.Cleanup(func() {
				_ = b.Close(context.Background())
				_ = store.Close()
			})
			return b, store
		})
	})
}
