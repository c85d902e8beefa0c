package service_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/medisync/medisync/records/adapter/blobfs"
	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A user's upload past their limit is refused while theirs is in flight;
// another user's is not, and a finished upload frees its slot.
func TestUploadsInFlightPerUser(t *testing.T) {
	ctx := context.Background()
	pats := patients{{ID: ids.New(), UserID: ids.New(), Active: true}, {ID: ids.New(), UserID: ids.New(), Active: true}}
	svc, _ := newService(t, pats, func(d *service.Deps) { d.MaxUploadsPerUser = 1 })
	as := func(p service.PatientRef) authn.Principal {
		return authn.Principal{UserID: p.UserID, Roles: []string{"PATIENT"}}
	}
	meta := record.DocumentMeta{Type: "lab-report", Title: "CBC", ContentType: "application/pdf"}
	pdf := []byte("%PDF-1.7\nresults")
	upload := func(p service.PatientRef, body io.Reader) error {
		_, err := svc.UploadDocument(ctx, as(p), p.ID, meta, body)
		return err
	}

	// The first patient's upload waits for the rest of its body.
	pr, pw := io.Pipe()
	first := make(chan error, 1)
	go func() { first <- upload(pats[0], pr) }()
	if _, err := pw.Write(pdf[:9]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for err := upload(pats[0], bytes.NewReader(pdf)); !errors.Is(err, record.ErrTooManyUploads); err = upload(pats[0], bytes.NewReader(pdf)) {
		if time.Now().After(deadline) {
			t.Fatalf("a second upload of the same user while the first is in flight = %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := upload(pats[1], bytes.NewReader(pdf)); err != nil {
		t.Fatalf("another user's upload meanwhile: %v", err)
	}
	if _, err := pw.Write(pdf[9:]); err != nil {
		t.Fatal(err)
	}
	_ = pw.Close()
	if err := <-first; err != nil {
		t.Fatalf("the first upload: %v", err)
	}
	if err := upload(pats[0], bytes.NewReader(pdf)); err != nil {
		t.Fatalf("the slot is free again: %v", err)
	}
}

// cutReader yields n bytes of a PDF, then fails with err (net/http's
// io.ErrUnexpectedEOF for a body shorter than its Content-Length when nil).
type cutReader struct {
	n   int
	err error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, io.ErrUnexpectedEOF
	}
	k := min(len(p), c.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	copy(p, "%PDF-1.7\n")
	c.n -= k
	return k, nil
}

// An upload whose body ends short is the client's error (400), before or
// after the first bytes are checked, and leaves nothing stored.
func TestAnUploadCutShortIsTheClients(t *testing.T) {
	ctx := context.Background()
	p := service.PatientRef{ID: ids.New(), UserID: ids.New(), Active: true}
	svc, blobs := newService(t, patients{p})
	actor := authn.Principal{UserID: p.UserID, Roles: []string{"PATIENT"}}
	for _, n := range []int{100, 64 << 10} {
		_, err := svc.UploadDocument(ctx, actor, p.ID, record.DocumentMeta{Type: "lab-report", Title: "CBC", ContentType: "application/pdf"},
			&cutReader{n: n})
		if !errors.Is(err, record.ErrUploadCut) || problem.From(err).Status != http.StatusBadRequest {
			t.Fatalf("an upload cut after %d bytes = %v, want ErrUploadCut (400)", n, err)
		}
	}
	// A body still arriving when the server's read deadline passes was not
	// there in time: 408, not a cut.
	_, err := svc.UploadDocument(ctx, actor, p.ID, record.DocumentMeta{Type: "lab-report", Title: "CBC", ContentType: "application/pdf"},
		&cutReader{n: 64 << 10, err: fmt.Errorf("read tcp: %w", os.ErrDeadlineExceeded)})
	if !errors.Is(err, record.ErrUploadTooSlow) {
		t.Fatalf("an upload past the read deadline = %v, want ErrUploadTooSlow", err)
	}
	page, err := svc.ListDocuments(ctx, actor, record.DocumentQuery{PatientID: p.ID, Limit: 10})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("documents after cut uploads: %+v, %v", page.Items, err)
	}
	if infos, err := blobs.List(ctx, service.BlobPrefix, "", 10); err != nil || len(infos) != 0 {
		t.Fatalf("objects after cut uploads: %+v, %v", infos, err)
	}
}

// A text upload is checked whole as it streams, whatever size the reads
// come in: a character split across reads is text, a control byte or bad
// UTF-8 anywhere, or a character cut at the end, is ErrContentMismatch
// (415, tested in transport), and leaves no document and no object.
func TestTextUploadCheckedWhole(t *testing.T) {
	ctx := context.Background()
	p := service.PatientRef{ID: ids.New(), UserID: ids.New(), Active: true}
	svc, blobs := newService(t, patients{p}, func(d *service.Deps) { d.MaxDocumentBytes = 32 << 20 })
	actor := authn.Principal{UserID: p.UserID, Roles: []string{"PATIENT"}}
	meta := record.DocumentMeta{Type: "note", Title: "notes", ContentType: record.TypeText}
	line := []byte("fièvre 38,5 °C — 体温\tok\r\n")
	text := bytes.Repeat(line, 40_000) // past a part of the S3 store
	for name, r := range map[string]io.Reader{
		"whole":            bytes.NewReader(text),
		"a byte at a time": iotest.OneByteReader(bytes.NewReader(bytes.Repeat(line, 200))),
	} {
		if _, err := svc.UploadDocument(ctx, actor, p.ID, meta, r); err != nil {
			t.Fatalf("text read %s: %v", name, err)
		}
	}
	for name, body := range map[string][]byte{
		"a NUL far in":                 append(bytes.Clone(text), 0),
		"bad UTF-8 far in":             append(append(bytes.Clone(text[:1<<20]), 0xff), text[:100]...),
		"a control byte past the head": append(bytes.Repeat([]byte("a"), 600), 0x1b),
		"DEL past the head":            append(bytes.Repeat([]byte("a"), 600), 0x7f),
		"a character cut at the end":   append(bytes.Repeat([]byte("a"), 600), "\xe4\xbd"...),
	} {
		_, err := svc.UploadDocument(ctx, actor, p.ID, meta, iotest.HalfReader(bytes.NewReader(body)))
		if !errors.Is(err, record.ErrContentMismatch) {
			t.Fatalf("text with %s = %v, want ErrContentMismatch", name, err)
		}
	}
	page, err := svc.ListDocuments(ctx, actor, record.DocumentQuery{PatientID: p.ID, Limit: 10})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("documents after refused text: %d, %v; want the two accepted", len(page.Items), err)
	}
	if infos, err := blobs.List(ctx, service.BlobPrefix, "", 10); err != nil || len(infos) != 2 {
		t.Fatalf("objects after refused text: %+v, %v; want the two accepted", infos, err)
	}
}

// retractingBody is an upload's body during whose streaming (which may take
// minutes for 50 MiB) fn runs once, before the first read.
type retractingBody struct {
	r    io.Reader
	once sync.Once
	fn   func()
}

func (b *retractingBody) Read(p []byte) (int, error) {
	b.once.Do(b.fn)
	return b.r.Read(p)
}

// An encounter marked entered-in-error while an upload linked to it still
// streams takes no document: the upload, checked again as its row is
// written, is ErrEncounterEnteredInError, and stores neither a row nor an
// object.
func TestUploadLinkedToAnEncounterMarkedEnteredInErrorMidStreamIsRefused(t *testing.T) {
	ctx := context.Background()
	patient := service.PatientRef{ID: ids.New(), UserID: ids.New(), Active: true}
	cleanups := service.NewCleanups(0, 0)
	svc, blobs := newService(t, patients{patient}, func(d *service.Deps) { d.DoctorsReadAll, d.Cleanups = true, cleanups })
	doctor := authn.Principal{UserID: ids.New(), Roles: []string{"DOCTOR"}}
	enc, err := svc.OpenEncounter(ctx, doctor, patient.ID, record.Clinical{Note: record.Note{Subjective: "cough"}})
	if err != nil {
		t.Fatal(err)
	}
	actor := authn.Principal{UserID: patient.UserID, Roles: []string{"PATIENT"}}
	body := &retractingBody{r: bytes.NewReader([]byte("%PDF-1.7\nresults")), fn: func() {
		if _, err := svc.RetractEncounter(ctx, doctor, patient.ID, enc.ID, enc.Version, "wrong patient"); err != nil {
			t.Errorf("retract: %v", err)
		}
	}}
	d, err := svc.UploadDocument(ctx, actor, patient.ID,
		record.DocumentMeta{Type: "lab-report", Title: "CBC", ContentType: "application/pdf", EncounterID: enc.ID}, body)
	if !errors.Is(err, record.ErrEncounterEnteredInError) || problem.From(err).Status != http.StatusConflict {
		t.Fatalf("upload linked to encounter %s marked entered-in-error while it streamed = %+v, %v; want ErrEncounterEnteredInError (409)", enc.ID, d, err)
	}
	page, err := svc.ListDocuments(ctx, actor, record.DocumentQuery{PatientID: patient.ID, Limit: 10})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("documents after the refused upload: %+v, %v", page.Items, err)
	}
	if err := cleanups.Close(ctx); err != nil { // the object's removal runs after the answer
		t.Fatal(err)
	}
	if infos, err := blobs.List(ctx, service.BlobPrefix, "", 10); err != nil || len(infos) != 0 {
		t.Fatalf("objects after the refused upload: %+v, %v", infos, err)
	}
}

// slowCompletion is a blob store whose Put, once the body has ended (read
// called, as blobs3 does before the last parts and the completion), waits
// for release: an S3 that completes a multipart upload slowly.
type slowCompletion struct {
	*blobfs.Store
	stored, release chan struct{}
}

func (s slowCompletion) Put(ctx context.Context, key string, r io.Reader, read func(service.Stored)) (service.Stored, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return service.Stored{}, err
	}
	st, err := s.Store.Put(ctx, key, bytes.NewReader(b), nil)
	if err != nil {
		return st, err
	}
	read(st)
	close(s.stored)
	<-s.release
	return st, nil
}

// linkedUpload is an upload linked to an encounter, run by
// whileALinkedUploadCompletes.
type linkedUpload struct {
	svc      service.Service
	blobs    *blobfs.Store
	cleanups *service.Cleanups
	patient  service.PatientRef
	changed  error // what the change of the encounter returned
	uploaded error // what the upload returned
}

// whileALinkedUploadCompletes uploads a document linked to an open
// encounter and, while its content is completed in the store (its row
// staged), runs change on the encounter with a 2 s budget, well under the
// upload's 50 s.
func whileALinkedUploadCompletes(t *testing.T, db *sqldb.DB, change func(ctx context.Context, svc service.Service, doctor authn.Principal, enc record.Encounter) error) linkedUpload {
	t.Helper()
	ctx := context.Background()
	u := linkedUpload{patient: service.PatientRef{ID: ids.New(), UserID: ids.New(), Active: true}, cleanups: service.NewCleanups(0, 0)}
	var slow slowCompletion
	u.svc, u.blobs = newServiceOn(t, db, patients{u.patient}, func(d *service.Deps) {
		slow = slowCompletion{Store: d.Blobs.(*blobfs.Store), stored: make(chan struct{}), release: make(chan struct{})}
		d.Blobs, d.DoctorsReadAll, d.Cleanups = slow, true, u.cleanups
	})
	doctor := authn.Principal{UserID: ids.New(), Roles: []string{"DOCTOR"}}
	enc, err := u.svc.OpenEncounter(ctx, doctor, u.patient.ID, record.Clinical{Note: record.Note{Subjective: "cough"}})
	if err != nil {
		t.Fatal(err)
	}
	actor := authn.Principal{UserID: u.patient.UserID, Roles: []string{"PATIENT"}}
	done := make(chan error, 1)
	go func() {
		_, err := u.svc.UploadDocument(ctx, actor, u.patient.ID,
			record.DocumentMeta{Type: "lab-report", Title: "CBC", ContentType: "application/pdf", EncounterID: enc.ID},
			bytes.NewReader([]byte("%PDF-1.7\nresults")))
		done <- err
	}()
	<-slow.stored
	time.Sleep(200 * time.Millisecond) // the staging goroutine has written the row
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	u.changed = change(cctx, u.svc, doctor, enc)
	close(slow.release)
	u.uploaded = <-done
	return u
}

// A doctor signs an encounter at once while a patient's upload linked to it
// completes in the store, which may take up to the upload's deadline: the
// staged document holds no lock on the encounter, and is stored too.
func TestEncounterIsSignedAtOnceWhileALinkedUploadCompletes(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		u := whileALinkedUploadCompletes(t, db, func(ctx context.Context, svc service.Service, doctor authn.Principal, enc record.Encounter) error {
			_, err := svc.SignEncounter(ctx, doctor, enc.PatientID, enc.ID, enc.Version)
			return err
		})
		if u.changed != nil {
			t.Fatalf("sign while a linked upload completes = %v (HTTP %d); want signed at once", u.changed, problem.From(u.changed).Status)
		}
		if u.uploaded != nil {
			t.Fatalf("the upload linked to the encounter signed while it completed: %v", u.uploaded)
		}
	})
}

// An encounter is marked entered-in-error at once while an upload linked to
// it completes in the store; the upload, checked again as its row commits,
// is then ErrEncounterEnteredInError (409) and stores neither a row nor an
// object.
func TestUploadLinkedToAnEncounterMarkedEnteredInErrorAsItCompletesIsRefused(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		u := whileALinkedUploadCompletes(t, db, func(ctx context.Context, svc service.Service, doctor authn.Principal, enc record.Encounter) error {
			_, err := svc.RetractEncounter(ctx, doctor, enc.PatientID, enc.ID, enc.Version, "wrong patient")
			return err
		})
		if u.changed != nil {
			t.Fatalf("entered-in-error while a linked upload completes = %v (HTTP %d); want marked at once", u.changed, problem.From(u.changed).Status)
		}
		if !errors.Is(u.uploaded, record.ErrEncounterEnteredInError) || problem.From(u.uploaded).Status != http.StatusConflict {
			t.Fatalf("upload linked to an encounter marked entered-in-error as it completed = %v; want ErrEncounterEnteredInError (409)", u.uploaded)
		}
		actor := authn.Principal{UserID: u.patient.UserID, Roles: []string{"PATIENT"}}
		page, err := u.svc.ListDocuments(ctx, actor, record.DocumentQuery{PatientID: u.patient.ID, Limit: 10})
		if err != nil || len(page.Items) != 0 {
			t.Fatalf("documents after the refused upload: %+v, %v", page.Items, err)
		}
		if err := u.cleanups.Close(ctx); err != nil { // the object's removal runs after the answer
			t.Fatal(err)
		}
		if infos, err := u.blobs.List(ctx, service.BlobPrefix, "", 10); err != nil || len(infos) != 0 {
			t.Fatalf("objects after the refused upload: %+v, %v", infos, err)
		}
	})
}
