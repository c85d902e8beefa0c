package transport_test

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"testing"
	"time"

	"github.com/medisync/medisync/shared/httpmw"
)

// SQLite, the default database, locked by another writer (a second
// process on the file, a long write, a VACUUM) for longer than the 10 s
// busy timeout sqldb sets: a route whose deadline is longer than that (an
// upload: 50 s) gets SQLite's "database is locked" (SQLITE_BUSY), which no
// classifier maps to Unavailable, and answers 500 instead of 503 with
// Retry-After.
func TestUploadWhileSQLiteIsLockedIs503(t *testing.T) {
	h := newHarness(t, 1<<20)
	h.srv.Config.Handler = httpmw.Deadline(50 * time.Second)(h.srv.Config.Handler) // records' transfer deadline
	var seq int
	var name, file string
	if err := h.db.QueryRow(`PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	r := h.do("patient", http.MethodPost, "/documents?title=t&type=lab-report", bytes.NewReader([]byte("%PDF-1.7\nx")),
		"Content-Type", "application/pdf")
	if r.code != http.StatusServiceUnavailable || r.h.Get("Retry-After") == "" {
		t.Fatalf("upload with the database locked = %d %s, want 503 with Retry-After", r.code, r.body)
	}
}
