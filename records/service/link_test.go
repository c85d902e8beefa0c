package service_test

import (
	"bytes"
	"context"
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
