package service_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"testing"

	"github.com/medisync/medisync/records/adapter/blobfs"
	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// directory knows one patient, owned by one account.
type directory service.PatientRef

func (d directory) Patient(_ context.Context, id string) (service.PatientRef, error) {
	if id != d.ID {
		return service.PatientRef{}, record.ErrNotFound
	}
	return service.PatientRef(d), nil
}

// A document whose row is there but whose object the store no longer has
// is a storage fault, answered 503 with Retry-After: the document exists,
// so it is no 404, and nothing the service did wrong, so no 500.
func TestOpenContentOfALostObjectIsAFault(t *testing.T) {
	ctx := context.Background()
	store := sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations()))
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	blobs, err := blobfs.New(t.TempDir(), key)
	if err != nil {
		t.Fatal(err)
	}
	rec := auditlog.New[record.AuditEvent](store, auditlog.Options{})
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	patient := directory{ID: ids.New(), UserID: ids.New(), Active: true}
	svc := service.New(service.Deps{Encounters: store, Documents: store, Audit: store, Recorder: rec, Blobs: blobs,
		Patients: patient, Clock: clock.System{}})
	actor := authn.Principal{UserID: patient.UserID, Roles: []string{"PATIENT"}}

	d, err := svc.UploadDocument(ctx, actor, patient.ID, record.DocumentMeta{Type: "lab-report", Title: "CBC", ContentType: "application/pdf"},
		bytes.NewReader([]byte("%PDF-1.7\nresults")))
	if err != nil {
		t.Fatal(err)
	}
	_, b, err := svc.OpenContent(ctx, actor, "", patient.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Close()

	if err := blobs.Delete(ctx, d.BlobKey); err != nil {
		t.Fatal(err)
	}
	_, _, err = svc.OpenContent(ctx, actor, "", patient.ID, d.ID)
	if !errors.Is(err, domainerr.Unavailable) || !errors.Is(err, service.ErrBlobNotFound) {
		t.Fatalf("OpenContent of a lost object = %v, want an Unavailable fault", err)
	}
	if p := problem.From(err); p.Status != http.StatusServiceUnavailable || p.Headers.Get("Retry-After") == "" {
		t.Fatalf("answered %d %v, want 503 with Retry-After", p.Status, p.Headers)
	}
}
