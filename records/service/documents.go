package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
)

// BlobPrefix is where document content lives in the blob store.
const BlobPrefix = "documents/"

// UploadDocument stores a new document of a patient: the patient themself
// or a doctor treating them.
func (s *service) UploadDocument(ctx context.Context, actor authn.Principal, patientID string, meta record.DocumentMeta, body io.Reader) (record.Document, error) {
	if err := meta.Validate(); err != nil {
		return record.Document{}, err
	}
	r, err := s.relate(ctx, actor, patientID)
	if err != nil {
		return record.Document{}, err
	}
	if !r.own && !r.treats {
		return record.Document{}, s.deny(ctx, actor, record.ActionUpload, record.ResourceDocument, patientID, "", refusal(r))
	}
	return s.store(ctx, actor, patientID, meta, body, "")
}

// ReplaceDocument stores a new version of a current document, which
// becomes superseded: a treating doctor may replace any of the patient's
// documents; the patient only those they uploaded themselves, so that a
// lab report or a scan a clinician filed cannot be pushed out of the
// current list by the patient.
func (s *service) ReplaceDocument(ctx context.Context, actor authn.Principal, patientID, id string, meta record.DocumentMeta, body io.Reader) (record.Document, error) {
	if err := meta.Validate(); err != nil {
		return record.Document{}, err
	}
	r, err := s.relate(ctx, actor, patientID)
	if err != nil {
		return record.Document{}, err
	}
	if !r.own && !r.treats {
		return record.Document{}, s.deny(ctx, actor, record.ActionUpload, record.ResourceDocument, patientID, id, refusal(r))
	}
	old, err := s.Documents.DocumentByID(ctx, patientID, id)
	if err != nil {
		return record.Document{}, err
	}
	if old.Status != record.DocumentCurrent {
		return record.Document{}, record.ErrNotCurrent
	}
	if !r.treats && old.AuthorID != actor.UserID {
		return record.Document{}, s.deny(ctx, actor, record.ActionUpload, record.ResourceDocument, patientID, id, record.ErrNotYourDocument)
	}
	return s.store(ctx, actor, patientID, meta, body, id)
}

// store streams body to the blob store (hashing it, checking its first
// bytes against the declared type, all of a text, and its size against
// the limit) and
// writes the metadata in one transaction, begun as soon as the body has
// ended so that it overlaps the storing of the last bytes, and committed
// once the content is stored. A failure at any step rolls the transaction
// back and removes the object after the answer (discard), but for a commit
// whose outcome is unknown; the sweeper removes what that, a crash, or a
// removal that could not run, leaves and no row names.
func (s *service) store(ctx context.Context, actor authn.Principal, patientID string, meta record.DocumentMeta, body io.Reader,
	replaces string) (record.Document, error) {
	if !s.uploads.take(actor.UserID) {
		return record.Document{}, record.ErrTooManyUploads
	}
	defer s.uploads.give(actor.UserID)
	// The encounter is checked before the body is read, so that a refused
	// link costs no upload, and again as the row is written and committed:
	// it may be marked entered-in-error while the body streams or the
	// content is completed in the store.
	if meta.EncounterID != "" {
		e, err := s.Encounters.EncounterByID(ctx, patientID, meta.EncounterID)
		switch {
		case errors.Is(err, record.ErrNotFound):
			return record.Document{}, record.ErrUnknownEncounter
		case err != nil:
			return record.Document{}, fmt.Errorf("check the document's encounter: %w", err)
		case e.Status == record.EncounterEnteredInError:
			return record.Document{}, record.ErrEncounterEnteredInError
		}
	}
	lim := &limitReader{r: body, left: s.MaxDocumentBytes}
	br := bufio.NewReaderSize(lim, record.SniffLen)
	head, err := br.Peek(record.SniffLen)
	if err != nil && !errors.Is(err, io.EOF) {
		return record.Document{}, lim.blame(fmt.Errorf("read upload: %w", err))
	}
	if len(head) == 0 {
		return record.Document{}, record.ErrEmpty
	}
	if !record.Sniff(meta.ContentType, head) {
		return record.Document{}, record.ErrContentMismatch
	}
	id := s.NewID()
	key := BlobPrefix + id
	document := func(st Stored) record.Document {
		return record.Document{
			ID: id, PatientID: patientID, Status: record.DocumentCurrent, Type: meta.Type, Category: meta.Category,
			Title: meta.Title, ContentType: meta.ContentType, Size: st.Size, SHA256: st.SHA256,
			AuthorID: actor.UserID, Date: s.now(), EncounterID: meta.EncounterID, Replaces: replaces, BlobKey: key, Version: 1,
		}
	}
	var src io.Reader = br
	if meta.ContentType == record.TypeText {
		src = &textReader{r: br}
	}
	var w *staging
	st, err := s.Blobs.Put(ctx, key, src, func(st Stored) { w = s.stage(ctx, actor, document(st)) })
	if err != nil {
		w.drop()
		s.discard(ctx, key)
		return record.Document{}, lim.blame(fmt.Errorf("store document content: %w", err))
	}
	if w == nil { // a store that did not say when the body ended
		w = s.stage(ctx, actor, document(st))
	}
	d, err := w.commit()
	if err != nil {
		// A commit whose answer was lost may have stored the row: its
		// object stays, and the sweeper removes it only if no row names it.
		if !errors.Is(err, domainerr.ErrOutcomeUnknown) {
			s.discard(ctx, key)
		}
		return record.Document{}, err
	}
	return d, nil
}

// staging is a document's metadata being written, with its audit event,
// in a transaction left open.
type staging struct {
	d    record.Document
	done chan stageResult
}

type stageResult struct {
	p   Pending
	err error
}

func (s *service) stage(ctx context.Context, actor authn.Principal, d record.Document) *staging {
	ev := s.event(ctx, actor, record.ActionUpload, record.ResourceDocument, d.PatientID, d.ID, record.OutcomeAllowed, "")
	w := &staging{d: d, done: make(chan stageResult, 1)}
	go func() {
		p, err := s.Documents.StageDocument(ctx, d, ev)
		w.done <- stageResult{p, err}
	}()
	return w
}

// commit waits for the write and commits it.
func (w *staging) commit() (record.Document, error) {
	r := <-w.done
	if r.err != nil {
		return record.Document{}, r.err
	}
	if err := r.p.Commit(); err != nil {
		return record.Document{}, fmt.Errorf("commit document: %w", err)
	}
	return w.d, nil
}

// drop waits for the write, if any, and rolls it back.
func (w *staging) drop() {
	if w == nil {
		return
	}
	if r := <-w.done; r.err == nil {
		_ = r.p.Rollback()
	}
}

// discard removes, after the answer, an object whose metadata was never
// written: a store that failed the upload may be down or hung, and waiting
// on it again would hold the answer past the request's deadline. What it
// cannot remove the sweeper will.
func (s *service) discard(ctx context.Context, key string) {
	s.Cleanups.Go(ctx, func(ctx context.Context) { _ = s.Blobs.Delete(ctx, key) })
}

// textReader holds a text upload to the text rule past its first bytes:
// binary content further in fails the read, and so the Put, which stores
// nothing, with ErrContentMismatch.
type textReader struct {
	r     io.Reader
	check record.TextCheck
}

func (t *textReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if _, cerr := t.check.Write(p[:n]); cerr != nil {
		return 0, cerr
	}
	if err == io.EOF {
		if cerr := t.check.Close(); cerr != nil {
			return 0, cerr
		}
	}
	return n, err
}

// limitReader fails once more than left bytes are read, and remembers it.
type limitReader struct {
	r      io.Reader
	left   int64
	over   bool
	failed error // the client's body failed (cut short, connection broken)
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		l.over = true
		return 0, record.ErrTooLarge
	}
	// Read one byte past the limit to tell "exactly at" from "beyond".
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		l.over = true
		return n, record.ErrTooLarge
	}
	if err != nil && err != io.EOF && l.failed == nil {
		l.failed = err
	}
	return n, err
}

// blame turns err, the failure of an upload, into the client's error when
// the client's body caused it: too large (413), not there in time (408),
// or cut short (400).
// Anything else stays the store's.
func (l *limitReader) blame(err error) error {
	switch {
	case l.over:
		return record.ErrTooLarge
	case l.failed != nil && timedOut(l.failed):
		return fmt.Errorf("%w: %w", record.ErrUploadTooSlow, l.failed)
	case l.failed != nil:
		return fmt.Errorf("%w: %w", record.ErrUploadCut, l.failed)
	}
	return err
}

// timedOut reports whether a body's read failed on a deadline: the body
// was not cut, it was not all there in time (a slow client, or a store
// that held the reading up).
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// GetDocument returns a document's metadata.
func (s *service) GetDocument(ctx context.Context, actor authn.Principal, patientID, id string) (record.Document, error) {
	r, err := s.relate(ctx, actor, patientID)
	if err != nil {
		return record.Document{}, err
	}
	if err := s.metadata(ctx, actor, r, record.ActionRead, record.ResourceDocument, id); err != nil {
		return record.Document{}, err
	}
	d, err := s.Documents.DocumentByID(ctx, patientID, id)
	if err != nil {
		return record.Document{}, err
	}
	if err := s.allow(ctx, actor, record.ActionRead, record.ResourceDocument, patientID, id, ""); err != nil {
		return record.Document{}, err
	}
	return d, nil
}

// ListDocuments lists a patient's documents' metadata, newest first.
func (s *service) ListDocuments(ctx context.Context, actor authn.Principal, q record.DocumentQuery) (page.Page[record.Document], error) {
	r, err := s.relate(ctx, actor, q.PatientID)
	if err != nil {
		return page.Page[record.Document]{}, err
	}
	if err := s.metadata(ctx, actor, r, record.ActionList, record.ResourceDocument, ""); err != nil {
		return page.Page[record.Document]{}, err
	}
	out, err := s.Documents.ListDocuments(ctx, q)
	if err != nil {
		return page.Page[record.Document]{}, err
	}
	if err := s.allow(ctx, actor, record.ActionList, record.ResourceDocument, q.PatientID, "", ""); err != nil {
		return page.Page[record.Document]{}, err
	}
	return out, nil
}

// RetractDocument marks a document entered-in-error: its author or an
// administrator, provided they may still see the patient's records (an
// author whose care relation ended may not).
func (s *service) RetractDocument(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, why string) (record.Document, error) {
	if err := record.ValidateReason("reason", why); err != nil {
		return record.Document{}, err
	}
	r, err := s.relate(ctx, actor, patientID)
	if err != nil {
		return record.Document{}, err
	}
	if err := s.metadata(ctx, actor, r, record.ActionRetract, record.ResourceDocument, id); err != nil {
		return record.Document{}, err
	}
	d, err := s.Documents.DocumentByID(ctx, patientID, id)
	if err != nil {
		return record.Document{}, err
	}
	if !r.admin && (actor.UserID == "" || d.AuthorID != actor.UserID) {
		return record.Document{}, s.deny(ctx, actor, record.ActionRetract, record.ResourceDocument, patientID, id, refusal(r))
	}
	switch {
	case d.Status == record.DocumentEnteredInError:
		return record.Document{}, record.ErrEnteredInError
	case ifMatch == 0:
		return record.Document{}, record.ErrPreconditionRequired
	case d.Version != ifMatch:
		return record.Document{}, domainerr.StaleFor(ifMatch, record.ErrStaleVersion)
	}
	d.Status, d.ErrorReason, d.Version = record.DocumentEnteredInError, why, d.Version+1
	ev := s.event(ctx, actor, record.ActionRetract, record.ResourceDocument, patientID, id, record.OutcomeAllowed, "")
	if err := s.Documents.RetractDocument(ctx, d, ev); err != nil {
		return record.Document{}, err
	}
	return d, nil
}

// mayReadContent checks that actor may read the patient's clinical content
// and returns the reason to audit; it records only a denial.
func (s *service) mayReadContent(ctx context.Context, actor authn.Principal, reason, patientID, id string, action record.Action) (string, error) {
	r, err := s.relate(ctx, actor, patientID)
	if err != nil {
		return "", err
	}
	return s.clinical(ctx, actor, r, reason, action, record.ResourceContent, id)
}

// OpenContent returns a document's content for streaming; the caller
// closes the Blob. Once the caller may read the patient's content, the
// object is opened while the document's row is read and the access's
// audit event commits, so that the round trips overlap; the Blob is handed
// out only after the event is durable, and is closed unread when the
// document is not the patient's or the event cannot be recorded (ADR 0044).
func (s *service) OpenContent(ctx context.Context, actor authn.Principal, reason, patientID, id string) (record.Document, Blob, error) {
	why, err := s.mayReadContent(ctx, actor, reason, patientID, id, record.ActionDownload)
	if err != nil {
		return record.Document{}, nil, err
	}
	// Uploads store a document under BlobPrefix + its id; the row, read
	// meanwhile, has the last word.
	var o *opening
	if c, ok := ids.Canonical(id); ok && c == id {
		o = s.startOpen(ctx, BlobPrefix+id)
	}
	d, err := s.Documents.DocumentByID(ctx, patientID, id)
	if err != nil {
		o.abandon()
		return record.Document{}, nil, err
	}
	if o == nil || o.key != d.BlobKey {
		o.abandon()
		o = s.startOpen(ctx, d.BlobKey)
	}
	if err := s.allow(ctx, actor, record.ActionDownload, record.ResourceContent, patientID, id, why); err != nil {
		o.abandon()
		return record.Document{}, nil, err
	}
	b, err := o.blob()
	if errors.Is(err, ErrBlobNotFound) {
		// Documents are never removed, so the store has lost or cannot see
		// the object the row names: a storage fault, not the client's 404.
		return record.Document{}, nil, fmt.Errorf("open document content: %w: %w", errContentMissing, err)
	}
	if err != nil {
		return record.Document{}, nil, fmt.Errorf("open document content: %w", err)
	}
	return d, b, nil
}

// errContentMissing is the answer for a document whose stored content is
// missing.
var errContentMissing = domainerr.New(domainerr.Unavailable, "the document's content is unavailable")

// opening is a blob store Open under way.
type opening struct {
	key    string
	cancel context.CancelFunc
	done   chan openResult
}

type openResult struct {
	blob Blob
	err  error
}

func (s *service) startOpen(ctx context.Context, key string) *opening {
	ctx, cancel := context.WithCancel(ctx)
	o := &opening{key: key, cancel: cancel, done: make(chan openResult, 1)}
	go func() {
		b, err := s.Blobs.Open(ctx, key)
		o.done <- openResult{b, err}
	}()
	return o
}

// abandon ends the open and closes what it opened, unread.
func (o *opening) abandon() {
	if o == nil {
		return
	}
	o.cancel()
	if r := <-o.done; r.err == nil {
		_ = r.blob.Close()
	}
}

// blob waits for the open; closing the Blob ends the open's context.
func (o *opening) blob() (Blob, error) {
	r := <-o.done
	if r.err != nil {
		o.cancel()
		return nil, r.err
	}
	return &cancelOnClose{Blob: r.blob, cancel: o.cancel}, nil
}

// cancelOnClose ends the context the Blob reads under when it is closed.
type cancelOnClose struct {
	Blob
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.Blob.Close()
	c.cancel()
	return err
}

// ContentLink mints a short-lived URL for a document's content, when the
// blob store can presign.
func (s *service) ContentLink(ctx context.Context, actor authn.Principal, reason, patientID, id string) (Link, error) {
	// Access first, so that a stranger's request is refused and audited
	// as such whatever the store.
	why, err := s.mayReadContent(ctx, actor, reason, patientID, id, record.ActionLink)
	if err != nil {
		return Link{}, err
	}
	p, ok := s.Blobs.(Presigner)
	if !ok {
		return Link{}, record.ErrPresignDisabled
	}
	d, err := s.Documents.DocumentByID(ctx, patientID, id)
	if err != nil {
		return Link{}, err
	}
	// The access is recorded before the link is made.
	if err := s.allow(ctx, actor, record.ActionLink, record.ResourceContent, patientID, id, why); err != nil {
		return Link{}, err
	}
	expires := s.now().Add(s.LinkTTL)
	u, err := p.PresignGet(ctx, d.BlobKey, s.LinkTTL, d.ContentType, d.FileName())
	if err != nil {
		return Link{}, fmt.Errorf("presign document content: %w", err)
	}
	return Link{URL: u, ExpiresAt: expires}, nil
}

// uploadSlots counts each user's uploads in flight. An upload holds a part
// buffer of the blob store's shared pool while its client's bytes arrive
// (ADR 0037), so a few slow clients of one account could otherwise hold
// every buffer and stall everyone's uploads. A user's entry lives only
// while they upload: the map never holds more entries than uploads under
// way.
type uploadSlots struct {
	mu      sync.Mutex
	max     int
	running map[string]int
}

func newUploadSlots(max int) *uploadSlots {
	return &uploadSlots{max: max, running: map[string]int{}}
}

// take reserves one of user's slots, false when all are in use.
func (u *uploadSlots) take(user string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.running[user] >= u.max {
		return false
	}
	u.running[user]++
	return true
}

// give returns a slot take reserved.
func (u *uploadSlots) give(user string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.running[user] <= 1 {
		delete(u.running, user)
		return
	}
	u.running[user]--
}
