package service_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/medisync/medisync/records/adapter/blobfs"
	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// patients is a patient directory that knows these patients.
type patients []service.PatientRef

func (d patients) Patient(_ context.Context, id string) (service.PatientRef, error) {
	for _, p := range d {
		if p.ID == id {
			return p, nil
		}
	}
	return service.PatientRef{}, record.ErrNotFound
}

// newService returns the service over SQLite and the encrypted filesystem
// store, finding patients in dir; adjust, if given, changes its
// dependencies first.
func newService(t *testing.T, dir service.PatientDirectory, adjust ...func(*service.Deps)) (service.Service, *blobfs.Store) {
	t.Helper()
	return newServiceOn(t, sqltest.SQLite(t, sqlstore.Migrations()), dir, adjust...)
}

// newServiceOn is newService over db.
func newServiceOn(t *testing.T, db *sqldb.DB, dir service.PatientDirectory, adjust ...func(*service.Deps)) (service.Service, *blobfs.Store) {
	t.Helper()
	store := sqlstore.New(db)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	blobs, err := blobfs.New(t.TempDir(), key)
	if err != nil {
		t.Fatal(err)
	}
	rec := auditlog.New[record.AuditEvent](store, auditlog.Options{})
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	d := service.Deps{Encounters: store, Documents: store, Audit: store, Recorder: rec, Blobs: blobs, Patients: dir, Clock: clock.System{}}
	for _, f := range adjust {
		f(&d)
	}
	return service.New(d), blobs
}
