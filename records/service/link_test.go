package service_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/medisync/medisync/records/adapter/blobfs"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/ids"
)

// presigning is the filesystem store with a Presigner, recording what the
// service asks a link to name.
type presigning struct {
	*blobfs.Store
	contentType, filename string
}

func (p *presigning) PresignGet(_ context.Context, key string, _ time.Duration, contentType, filename string) (string, error) {
	p.contentType, p.filename = contentType, filename
	return "https://s3.example/" + key, nil
}

// A presigned link names the file as GET .../content does, by the
// document's id and its type's extension ("<id>.pdf"), or the file a
// browser saves through the link has no extension and no application
// opens it.
func TestLinkNamesTheFileByIDAndExtension(t *testing.T) {
	ctx := context.Background()
	patient := service.PatientRef{ID: ids.New(), UserID: ids.New(), Active: true}
	var p *presigning
	svc, _ := newService(t, patients{patient}, func(d *service.Deps) {
		p = &presigning{Store: d.Blobs.(*blobfs.Store)}
		d.Blobs = p
	})
	actor := authn.Principal{UserID: patient.UserID, Roles: []string{"PATIENT"}}
	d, err := svc.UploadDocument(ctx, actor, patient.ID, record.DocumentMeta{Type: "lab-report", Title: "CBC", ContentType: "application/pdf"},
		bytes.NewReader([]byte("%PDF-1.7\nresults")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ContentLink(ctx, actor, "", patient.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	if want := d.ID + ".pdf"; p.filename != want {
		t.Errorf("the link names the file %q, want %q", p.filename, want)
	}
}

// switchable is a recorder that can be made to fail, as an audit store
// that is down.
type switchable struct {
	service.AuditRecorder
	fail bool
}

func (s *switchable) Record(ctx context.Context, ev record.AuditEvent) error {
	if s.fail {
		return errors.New("audit store unavailable")
	}
	return s.AuditRecorder.Record(ctx, ev)
}

// A link is minted only once its access is on the patient's trail: while
// the event cannot be stored nothing is presigned and no link goes out;
// then the link's event, with an administrator's break-glass reason, is on
// the trail when the link is answered.
func TestALinkIsMintedOnlyAfterItsAccessIsAudited(t *testing.T) {
	ctx := context.Background()
	patient := service.PatientRef{ID: ids.New(), UserID: ids.New(), Active: true}
	var (
		p     *presigning
		rec   *switchable
		trail service.AuditRepository
	)
	svc, _ := newService(t, patients{patient}, func(d *service.Deps) {
		p = &presigning{Store: d.Blobs.(*blobfs.Store)}
		rec = &switchable{AuditRecorder: d.Recorder}
		d.Blobs, d.Recorder, trail = p, rec, d.Audit
	})
	owner := authn.Principal{UserID: patient.UserID, Roles: []string{"PATIENT"}}
	d, err := svc.UploadDocument(ctx, owner, patient.ID, record.DocumentMeta{Type: "lab-report", Title: "CBC", ContentType: "application/pdf"},
		bytes.NewReader([]byte("%PDF-1.7\nresults")))
	if err != nil {
		t.Fatal(err)
	}

	rec.fail = true
	if l, err := svc.ContentLink(ctx, owner, "", patient.ID, d.ID); err == nil || l.URL != "" || p.filename != "" {
		t.Fatalf("a link went out without its audit event: %+v, %v, presigned %q", l, err, p.filename)
	}

	rec.fail = false
	admin := authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}
	if _, err := svc.ContentLink(ctx, admin, "court order 2026-114", patient.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	got, err := trail.ListAudit(ctx, record.AuditQuery{PatientID: patient.ID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range got.Items {
		if ev.Action == record.ActionLink && ev.UserID == admin.UserID && ev.Outcome == record.OutcomeAllowed && ev.Reason == "court order 2026-114" {
			return
		}
	}
	t.Fatalf("no link event with its reason on the trail: %+v", got.Items)
}
