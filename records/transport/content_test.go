package transport_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/medisync/medisync/records/adapter/blobfs"
	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/metrics"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// failingRecorder fails every audit event while fail is set; it waits
// until the document's object has been opened, so that the failure
// arrives while an open reader is there to be closed.
type failingRecorder struct {
	service.AuditRecorder
	fail   atomic.Bool
	opened chan struct{}
}

func (f *failingRecorder) Record(ctx context.Context, ev record.AuditEvent) error {
	if !f.fail.Load() {
		return f.AuditRecorder.Record(ctx, ev)
	}
	select {
	case <-f.opened:
	case <-ctx.Done():
	}
	return errors.New("audit store down")
}

// countingBlobs counts the readers opened and closed, and their reads.
type countingBlobs struct {
	service.BlobStore
	mu             sync.Mutex
	opens, closes  int
	reads          atomic.Int64
	once           sync.Once
	onFirstOpening func()
}

func (c *countingBlobs) Open(ctx context.Context, key string) (service.Blob, error) {
	b, err := c.BlobStore.Open(ctx, key)
	if err == nil {
		c.mu.Lock()
		c.opens++
		c.mu.Unlock()
		b = &countedBlob{Blob: b, c: c}
	}
	c.once.Do(c.onFirstOpening)
	return b, err
}

func (c *countingBlobs) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opens, c.closes
}

type countedBlob struct {
	service.Blob
	c *countingBlobs
}

func (b *countedBlob) Read(p []byte) (int, error) {
	b.c.reads.Add(1)
	return b.Blob.Read(p)
}

func (b *countedBlob) Close() error {
	b.c.mu.Lock()
	b.c.closes++
	b.c.mu.Unlock()
	return b.Blob.Close()
}

// A download whose audit event cannot be stored sends no content, leaves
// no reader open, and answers as a failed audit always has: a problem.
func TestDownloadWithoutAuditSendsNothing(t *testing.T) {
	var rec *failingRecorder
	var blobs *countingBlobs
	h := newHarness(t, 1<<20, func(d *service.Deps) {
		rec = &failingRecorder{AuditRecorder: d.Recorder, opened: make(chan struct{})}
		blobs = &countingBlobs{BlobStore: d.Blobs, onFirstOpening: func() { close(rec.opened) }}
		d.Recorder, d.Blobs = rec, blobs
	})
	content := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("confidential "), 1000)...)
	r := h.do("patient", "POST", "/documents?title=CBC&type=lab-report", bytes.NewReader(content), "Content-Type", "application/pdf")
	if r.code != 201 {
		t.Fatalf("upload = %d %s", r.code, r.body)
	}
	id := r.json(t)["id"].(string)

	rec.fail.Store(true)
	r = h.do("patient", "GET", "/documents/"+id+"/content", nil)
	if r.code != 500 || !strings.HasPrefix(r.h.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("download without audit = %d %s %q", r.code, r.h.Get("Content-Type"), r.body)
	}
	if bytes.Contains(r.body, []byte("confidential")) || r.h.Get("ETag") != "" || r.h.Get("Content-Disposition") != "" {
		t.Fatalf("content or its headers went out: %v %q", r.h, r.body)
	}
	if opens, closes := blobs.counts(); opens != closes {
		t.Fatalf("%d readers opened, %d closed", opens, closes)
	}

	rec.fail.Store(false)
	if r := h.do("patient", "GET", "/documents/"+id+"/content", nil); r.code != 200 || !bytes.Equal(r.body, content) {
		t.Fatalf("download = %d, %d bytes", r.code, len(r.body))
	}
	h.srv.Close() // waits for the handler, which closes the reader after the last byte
	if opens, closes := blobs.counts(); opens != 2 || closes != 2 {
		t.Fatalf("%d readers opened, %d closed; want 2, 2", opens, closes)
	}
}

// A document id of another patient, asked for under the caller's own
// patient, is not found: the object the service starts to open before the
// row says whose it is goes back closed and unread.
func TestDownloadOfAnotherPatientsDocumentOpensNothingItKeeps(t *testing.T) {
	var blobs *countingBlobs
	h := newHarness(t, 1<<20, func(d *service.Deps) {
		blobs = &countingBlobs{BlobStore: d.Blobs, onFirstOpening: func() {}}
		d.Blobs = blobs
	})
	content := append([]byte("%PDF-1.7\n"), bytes.Repeat([]byte("theirs "), 1000)...)
	theirDoc := h.upload("other", h.other, content)

	r := h.do("patient", "GET", "/documents/"+theirDoc+"/content", nil)
	if r.code != 404 || bytes.Contains(r.body, []byte("theirs")) || r.h.Get("Content-Disposition") != "" {
		t.Fatalf("another patient's document under one's own = %d %v %q", r.code, r.h, r.body)
	}
	if opens, closes := blobs.counts(); opens != 1 || closes != 1 {
		t.Fatalf("%d readers opened, %d closed; want the early one, closed", opens, closes)
	}
	if r := h.doAt("other", h.other, "GET", "/documents/"+theirDoc+"/content", nil); r.code != 200 || !bytes.Equal(r.body, content) {
		t.Fatalf("the owner's download = %d, %d bytes", r.code, len(r.body))
	}
}

// lateFailingBlobs stores the content, says the body has ended, then fails
// as a store whose last part or final sync fails would.
type lateFailingBlobs struct{ service.BlobStore }

func (l lateFailingBlobs) Put(ctx context.Context, key string, r io.Reader, read func(service.Stored)) (service.Stored, error) {
	if _, err := l.BlobStore.Put(ctx, key, r, read); err != nil {
		return service.Stored{}, err
	}
	time.Sleep(50 * time.Millisecond) // the metadata is written meanwhile
	return service.Stored{}, domainerr.New(domainerr.Unavailable, "the document store is unavailable")
}

// An upload whose storing fails after the body has ended, while its
// metadata is already written, commits nothing: no document, no audit
// event of the upload, and no object once the removal that follows the
// answer has run.
func TestUploadFailingLateLeavesNothing(t *testing.T) {
	var blobs service.BlobStore
	docs := &countingDocuments{}
	h := newHarness(t, 1<<20, func(d *service.Deps) {
		blobs = d.Blobs
		d.Blobs = lateFailingBlobs{d.Blobs}
		docs.DocumentRepository = d.Documents
		d.Documents = docs
	})
	before := h.do("patient", "GET", "/audit?limit=100", nil).json(t)["items"].([]any)
	r := h.do("patient", "POST", "/documents?title=CBC&type=lab-report", strings.NewReader("%PDF-1.7\nlate"), "Content-Type", "application/pdf")
	if r.code != 503 {
		t.Fatalf("upload = %d %s", r.code, r.body)
	}
	if items := h.do("patient", "GET", "/documents", nil).json(t)["items"].([]any); len(items) != 0 {
		t.Fatalf("documents after a failed upload: %v", items)
	}
	after := h.do("patient", "GET", "/audit?limit=100", nil).json(t)["items"].([]any)
	for _, it := range after[:len(after)-len(before)] {
		if it.(map[string]any)["action"] == "upload" {
			t.Fatalf("an upload that failed is in the audit trail: %v", it)
		}
	}
	// The object is removed after the answer.
	if err := h.cleanups.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if infos, err := blobs.List(context.Background(), service.BlobPrefix, "", 10); err != nil || len(infos) != 0 {
		t.Fatalf("objects after a failed upload: %v %v", infos, err)
	}
	if c, r := docs.counts(); c != 0 || r != 1 {
		t.Fatalf("staged writes: %d committed, %d rolled back; want 0, 1", c, r)
	}
}

// An upload whose metadata commit the database applied but whose answer
// was lost keeps its content: the object may only go once no row names it
// (the sweeper's rule), never on the commit's error alone.
func TestUploadWhoseCommitAnswerIsLostKeepsItsContent(t *testing.T) {
	servers := map[string]struct {
		open   func(t *testing.T, proxy func(addr string) string) *sqldb.DB
		commit []byte
	}{
		"mysql": {func(t *testing.T, proxy func(string) string) *sqldb.DB {
			dsn := sqltest.MySQLDSN(t, sqlstore.Migrations())
			addr := dsn[strings.Index(dsn, "tcp(")+4 : strings.Index(dsn, ")/")]
			return openVia(t, strings.Replace(dsn, addr, proxy(addr), 1))
		}, sqltest.MySQLCommit},
		"postgres": {func(t *testing.T, proxy func(string) string) *sqldb.DB {
			dsn := sqltest.PostgresDSN(t, sqlstore.Migrations())
			return openVia(t, sqltest.PostgresVia(dsn, proxy(sqltest.PostgresAddr(dsn))))
		}, sqltest.PostgresCommit},
	}
	for name, server := range servers {
		t.Run(name, func(t *testing.T) {
			var proxy *sqltest.Proxy
			db := server.open(t, func(addr string) string { proxy = sqltest.NewProxy(t, addr); return proxy.Addr() })
			h := newHarness(t, 1<<20, func(d *service.Deps) { d.Documents = sqlstore.New(db) })

			pdf := []byte("%PDF-1.7\nlab results")
			if r := h.do("patient", "POST", "/documents?title=first&type=lab-report", bytes.NewReader(pdf), "Content-Type", "application/pdf"); r.code != http.StatusCreated {
				t.Fatalf("upload with the database up = %d %s", r.code, r.body)
			}
			proxy.LoseAnswerTo(server.commit)
			r := h.do("patient", "POST", "/documents?title=second&type=lab-report", bytes.NewReader(pdf), "Content-Type", "application/pdf")
			if r.code != http.StatusServiceUnavailable {
				t.Fatalf("upload whose commit answer was lost = %d %s, want 503", r.code, r.body)
			}
			// The removals a failed upload leaves run after its answer.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := h.cleanups.Close(ctx); err != nil {
				t.Fatal(err)
			}

			var listed struct {
				Items []struct {
					ID    string `json:"id"`
					Title string `json:"title"`
				} `json:"items"`
			}
			list := h.do("patient", "GET", "/documents", nil)
			if list.code != http.StatusOK {
				t.Fatalf("list = %d %s", list.code, list.body)
			}
			if err := json.Unmarshal(list.body, &listed); err != nil {
				t.Fatal(err)
			}
			if len(listed.Items) != 2 {
				t.Fatalf("documents = %+v, want both: the server committed the second", listed.Items)
			}
			for _, d := range listed.Items {
				if c := h.do("patient", "GET", "/documents/"+d.ID+"/content", nil); c.code != http.StatusOK {
					t.Errorf("document %q is listed but its content is gone: GET content = %d %s", d.Title, c.code, c.body)
				}
			}
		})
	}
}

func openVia(t *testing.T, dsn string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// countingDocuments counts the staged document writes committed and rolled
// back.
type countingDocuments struct {
	service.DocumentRepository
	commits, rollbacks atomic.Int32
}

func (c *countingDocuments) StageDocument(ctx context.Context, d record.Document, ev record.AuditEvent) (service.Pending, error) {
	p, err := c.DocumentRepository.StageDocument(ctx, d, ev)
	if err != nil {
		return nil, err
	}
	return countedPending{p, c}, nil
}

func (c *countingDocuments) counts() (int32, int32) { return c.commits.Load(), c.rollbacks.Load() }

type countedPending struct {
	service.Pending
	c *countingDocuments
}

func (p countedPending) Commit() error {
	p.c.commits.Add(1)
	return p.Pending.Commit()
}

func (p countedPending) Rollback() error {
	p.c.rollbacks.Add(1)
	return p.Pending.Rollback()
}

// On PostgreSQL, a client that goes away while its upload's metadata
// COMMIT runs cancels the request's context, and pgx reports the cut read
// by a bare context.Canceled; the server may still apply the commit, as it
// does here, so the object stays: the document listed has its content.
func TestUploadWhoseClientLeavesDuringThePostgresCommitKeepsItsContent(t *testing.T) {
	db := sqltest.Postgres(t, sqlstore.Migrations())
	bg := context.Background()
	for _, stmt := range []string{
		// The COMMIT takes a second (a slow WAL flush, a synchronous
		// standby's acknowledgement) and pgx's cancel request, sent as it
		// gives the connection up, comes past the point of no return.
		`CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
			BEGIN PERFORM pg_sleep(1); EXCEPTION WHEN query_canceled THEN PERFORM pg_sleep(0.2); END;
			RETURN NULL; END $$`,
		`CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON documents DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`,
	} {
		if _, err := db.ExecContext(bg, stmt); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, 1<<20, func(d *service.Deps) { d.Documents = sqlstore.New(db) })

	ctx, cancel := context.WithTimeout(bg, 400*time.Millisecond) // the client gives up
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", h.srv.URL+"/api/v1/records/patients/"+h.patient+"/documents?title=scan&type=lab-report",
		bytes.NewReader([]byte("%PDF-1.7\nlab results")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+h.tokens["patient"])
	req.Header.Set("Content-Type", "application/pdf")
	if res, err := http.DefaultClient.Do(req); err == nil {
		_ = res.Body.Close()
		t.Fatalf("the upload was answered (%d) before the client left", res.StatusCode)
	}

	time.Sleep(2 * time.Second) // the server finishes the commit
	cctx, ccancel := context.WithTimeout(bg, 5*time.Second)
	defer ccancel()
	if err := h.cleanups.Close(cctx); err != nil {
		t.Fatal(err)
	}
	var listed struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	list := h.do("patient", "GET", "/documents", nil)
	if err := json.Unmarshal(list.body, &listed); err != nil {
		t.Fatal(err)
	}
	switch len(listed.Items) {
	case 0:
		// The server heeded the cancel after all and rolled back: nothing is
		// listed, so nothing may lack its content. sqldb's tests pin the
		// outcome itself (TestPostgresCommitCanceledAfterItWentOutIsOfUnknownOutcome).
		return
	case 1:
	default:
		t.Fatalf("documents = %s, want at most the one upload", list.body)
	}
	if c := h.do("patient", "GET", "/documents/"+listed.Items[0].ID+"/content", nil); c.code != http.StatusOK {
		t.Fatalf("the document is listed but its content was removed: GET content = %d %s", c.code, c.body)
	}
}

// A download whose stored content fails its integrity check part-way (a
// damaged or tampered blob: the decrypting reader refuses a package) is cut
// short after the 200 went out: the client sees a broken body, the log an
// error line naming the document, and the access log and
// medisync_http_requests_total a failure, not a success.
func TestDownloadCutShortByDamagedContentIsLoggedAsAFailure(t *testing.T) {
	dir := t.TempDir()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	store, err := blobfs.New(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, 4<<20, func(d *service.Deps) { d.Blobs = store })
	reg := prometheus.NewRegistry()
	m := metrics.NewHTTP(reg)
	h.srv.Config.Handler = httpmw.Stack(h.srv.Config.Handler, httpmw.Options{Logger: h.logger, Metrics: m, MaxBodyBytes: 8 << 20})

	content := append([]byte("%PDF-1.7\n"), make([]byte, 1<<20)...)
	r := h.do("patient", "POST", "/documents?title=CT&type=imaging", bytes.NewReader(content), "Content-Type", "application/pdf")
	if r.code != 201 {
		t.Fatalf("upload = %d %s", r.code, r.body)
	}
	id := r.json(t)["id"].(string)

	// Damage one byte of the stored object, far past its first package.
	var object string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, _ := d.Info(); info != nil && info.Size() > 1<<19 {
				object = p
			}
		}
		return nil
	})
	if object == "" {
		t.Fatal("stored object not found")
	}
	f, err := os.OpenFile(object, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	_, _ = f.ReadAt(b, 800_000)
	b[0] ^= 0xff
	_, _ = f.WriteAt(b, 800_000)
	f.Close()

	before := h.logs.String()
	req, _ := http.NewRequest("GET", h.srv.URL+"/api/v1/records/patients/"+h.patient+"/documents/"+id+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+h.tokens["patient"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, readErr := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || (readErr == nil && len(got) == len(content)) {
		t.Fatalf("download: status %d, %d of %d bytes, read error %v; want a 200 cut short", res.StatusCode, len(got), len(content), readErr)
	}
	lines := strings.TrimPrefix(h.logs.String(), before)
	var fault, access string
	for _, l := range strings.Split(lines, "\n") {
		switch {
		case strings.Contains(l, "msg=\"document content cut short\""):
			fault = l
		case strings.Contains(l, "msg=request"):
			access = l
		}
	}
	if !strings.Contains(fault, "level=error") || !strings.Contains(fault, "documentId="+id) || !strings.Contains(fault, "err=") {
		t.Errorf("no error line naming the document and the fault:\n%s", lines)
	}
	if !strings.Contains(access, "status=500") || !strings.Contains(access, "level=warn") {
		t.Errorf("the access log does not record the download as a failure: %s", access)
	}
	const route = "/api/v1/records/patients/{patientId}/documents/{documentId}/content"
	if n := testutil.ToFloat64(m.Requests.WithLabelValues(route, "GET", "200")); n != 0 {
		t.Errorf("medisync_http_requests_total counts the cut-short download as %v successful answer(s)", n)
	}
	if n := testutil.ToFloat64(m.Requests.WithLabelValues(route, "GET", "500")); n != 1 {
		t.Errorf("medisync_http_requests_total{code=\"500\"} = %v, want 1", n)
	}
}
