package service_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/problem"
)

// A document whose row is there but whose object the store no longer has
// is a storage fault, answered 503 with Retry-After: the document exists,
// so it is no 404, and nothing the service did wrong, so no 500.
func TestOpenContentOfALostObjectIsAFault(t *testing.T) {
	ctx := context.Background()
	patient := service.PatientRef{ID: ids.New(), UserID: ids.New(), Active: true}
	svc, blobs := newService(t, patients{patient})
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
