package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
)

const docCols = "id, patient_id, status, type, category, title, content_type, size, sha256, author_id, doc_date, " +
	"encounter_id, replaces, blob_key, error_reason, version"

func scanDocument(sc scanner) (record.Document, error) {
	var d record.Document
	var status string
	if err := sc.Scan(&d.ID, &d.PatientID, &status, &d.Type, &d.Category, &d.Title, &d.ContentType, &d.Size, &d.SHA256,
		&d.AuthorID, &d.Date, &d.EncounterID, &d.Replaces, &d.BlobKey, &d.ErrorReason, &d.Version); err != nil {
		return record.Document{}, err
	}
	d.Status, d.Date = record.DocumentStatus(status), d.Date.UTC()
	return d, nil
}

// StageDocument writes d with ev in a transaction it leaves open; when d
// replaces a document, that one becomes superseded in it. On SQLite, whose
// one write transaction at a time would hold every other write back while
// the content is stored (up to two parts and the completion of a multipart
// upload), the write waits for Commit instead.
//
// The open transaction takes no lock on the encounter d links: it stays
// open until the content is stored (up to the upload's deadline), and a
// sign, change or retraction of that encounter must not wait for it.
// Staging reads the encounter's status without a lock; Commit reads it
// again, locked, just before the commit.
func (s *Store) StageDocument(ctx context.Context, d record.Document, ev record.AuditEvent) (service.Pending, error) {
	if s.db.Dialect == sqldb.SQLite {
		return deferredWrite{s: s, ctx: ctx, d: d, ev: ev}, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin transaction: %w", err)
	}
	if err := writeDocument(ctx, tx, d, ev); err != nil {
		_ = tx.Rollback()
		return nil, err
	}
	return openWrite{Tx: tx, ctx: ctx, dialect: s.db.Dialect, d: d}, nil
}

// openWrite is document d written in a transaction left open, with the
// context it began with.
type openWrite struct {
	*sql.Tx
	ctx     context.Context
	dialect sqldb.Dialect
	d       record.Document
}

// Commit checks again, holding the encounter's row for the few statements
// to the commit, that the encounter d links is not entered-in-error: if it
// was so marked while the content was stored, the transaction is rolled
// back and Commit is record.ErrEncounterEnteredInError. A retraction after
// that check waits only for the commit. Commit tells a commit whose outcome
// is unknown (sqldb.Commit) from a refused one, so that the service keeps
// the content a committed row may name.
func (w openWrite) Commit() error {
	if err := checkEncounter(w.ctx, w.Tx, w.d, shareLock(w.dialect)); err != nil {
		_ = w.Tx.Rollback()
		return err
	}
	return sqldb.Commit(w.ctx, w.Tx)
}

// deferredWrite writes a document in one transaction when committed.
type deferredWrite struct {
	s   *Store
	ctx context.Context
	d   record.Document
	ev  record.AuditEvent
}

func (w deferredWrite) Commit() error {
	return w.s.db.InTx(w.ctx, func(tx *sql.Tx) error { return writeDocument(w.ctx, tx, w.d, w.ev) })
}

func (w deferredWrite) Rollback() error { return nil }

// shareLock is the clause that reads a row with a shared lock, kept until
// the transaction ends (MariaDB, PostgreSQL); SQLite's one write
// transaction at a time needs none.
func shareLock(d sqldb.Dialect) string {
	switch d {
	case sqldb.Postgres:
		return " FOR SHARE"
	case sqldb.MySQL:
		return " LOCK IN SHARE MODE"
	}
	return ""
}

// checkEncounter reads, in tx, the status of the encounter d links, if
// any, with lock (shareLock, or ""): record.ErrUnknownEncounter when the
// patient has no such encounter, record.ErrEncounterEnteredInError when it
// is marked entered-in-error (since the service checked it before the body
// was read).
func checkEncounter(ctx context.Context, tx *sql.Tx, d record.Document, lock string) error {
	if d.EncounterID == "" {
		return nil
	}
	status, err := encounterStatus(ctx, tx, d.PatientID, d.EncounterID, lock)
	switch {
	case err == sql.ErrNoRows:
		return record.ErrUnknownEncounter
	case err != nil:
		return fmt.Errorf("read the document's encounter: %w", err)
	case status == string(record.EncounterEnteredInError):
		return record.ErrEncounterEnteredInError
	}
	return nil
}

// writeDocument writes d, with ev, in tx: not if d links an encounter that
// is unknown or entered-in-error (checkEncounter, without a lock: SQLite
// needs none, and an open write checks again, locked, as it commits).
func writeDocument(ctx context.Context, tx *sql.Tx, d record.Document, ev record.AuditEvent) error {
	if err := checkEncounter(ctx, tx, d, ""); err != nil {
		return err
	}
	if d.Replaces != "" {
		res, err := tx.ExecContext(ctx, "UPDATE documents SET status = ?, version = version + 1 WHERE id = ? AND patient_id = ? AND status = ?",
			string(record.DocumentSuperseded), d.Replaces, d.PatientID, string(record.DocumentCurrent))
		if err != nil {
			return fmt.Errorf("supersede document: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("supersede document: %w", err)
		} else if n != 1 {
			return record.ErrNotCurrent
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO documents ("+docCols+") VALUES ("+sqldb.Placeholders(16)+")",
		d.ID, d.PatientID, string(d.Status), d.Type, d.Category, d.Title, d.ContentType, d.Size, d.SHA256, d.AuthorID,
		d.Date.UTC(), d.EncounterID, d.Replaces, d.BlobKey, d.ErrorReason, d.Version); err != nil {
		return fmt.Errorf("insert document: %w", err)
	}
	return appendAuditTx(ctx, tx, ev)
}

// DocumentByID returns a document of a patient.
func (s *Store) DocumentByID(ctx context.Context, patientID, id string) (record.Document, error) {
	rows, err := s.stmts.Query(ctx, "SELECT "+docCols+" FROM documents WHERE id = ? AND patient_id = ?", id, patientID)
	if err != nil {
		return record.Document{}, fmt.Errorf("get document: %w", err)
	}
	items, err := sqldb.Collect(rows, scanDocument)
	if err != nil {
		return record.Document{}, fmt.Errorf("get document: %w", err)
	}
	if len(items) == 0 {
		return record.Document{}, record.ErrNotFound
	}
	return items[0], nil
}

// RetractDocument marks d entered-in-error if its stored version is
// d.Version-1.
func (s *Store) RetractDocument(ctx context.Context, d record.Document, ev record.AuditEvent) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE documents SET status = ?, error_reason = ?, version = ? WHERE id = ? AND patient_id = ? AND version = ? AND status <> ?",
			string(record.DocumentEnteredInError), d.ErrorReason, d.Version, d.ID, d.PatientID, d.Version-1, string(record.DocumentEnteredInError))
		if err != nil {
			return fmt.Errorf("retract document: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("retract document: %w", err)
		} else if n != 1 {
			var status string
			var version int64
			err := tx.QueryRowContext(ctx, "SELECT status, version FROM documents WHERE id = ? AND patient_id = ?", d.ID, d.PatientID).Scan(&status, &version)
			switch {
			case err == sql.ErrNoRows:
				return record.ErrNotFound
			case err != nil:
				return fmt.Errorf("read document: %w", err)
			case status == string(record.DocumentEnteredInError):
				return record.ErrEnteredInError
			default:
				return record.ErrStaleVersion
			}
		}
		return appendAuditTx(ctx, tx, ev)
	})
}

// ListDocuments returns a patient's documents, newest first.
func (s *Store) ListDocuments(ctx context.Context, q record.DocumentQuery) (page.Page[record.Document], error) {
	limit := page.ClampLimit(q.Limit)
	where, args := []string{"patient_id = ?"}, []any{q.PatientID}
	statuses := q.Statuses
	if len(statuses) == 0 {
		statuses = []record.DocumentStatus{record.DocumentCurrent}
	}
	where = append(where, "status IN ("+sqldb.Placeholders(len(statuses))+")")
	for _, st := range statuses {
		args = append(args, string(st))
	}
	if q.Cursor != "" {
		after, err := page.DecodeKeys(q.Cursor, 1)
		if err != nil {
			return page.Page[record.Document]{}, err
		}
		where = append(where, "id < ?")
		args = append(args, after[0])
	}
	args = append(args, limit+1)
	rows, err := s.stmts.Query(ctx, "SELECT "+docCols+" FROM documents WHERE "+strings.Join(where, " AND ")+" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return page.Page[record.Document]{}, fmt.Errorf("list documents: %w", err)
	}
	items, err := sqldb.Collect(rows, scanDocument)
	if err != nil {
		return page.Page[record.Document]{}, fmt.Errorf("list documents: %w", err)
	}
	return page.Cut(items, limit, func(last record.Document) []string { return []string{last.ID} }), nil
}

// KnownBlobKeys returns which of keys a document names.
func (s *Store) KnownBlobKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	known := make(map[string]bool, len(keys))
	for len(keys) > 0 {
		n := min(len(keys), 500)
		args := make([]any, n)
		for i, k := range keys[:n] {
			args[i] = k
		}
		rows, err := s.db.QueryContext(ctx, "SELECT blob_key FROM documents WHERE blob_key IN ("+sqldb.Placeholders(n)+")", args...)
		if err != nil {
			return nil, fmt.Errorf("match blob keys: %w", err)
		}
		found, err := sqldb.Collect(rows, func(sc scanner) (string, error) {
			var k string
			return k, sc.Scan(&k)
		})
		if err != nil {
			return nil, fmt.Errorf("match blob keys: %w", err)
		}
		for _, k := range found {
			known[k] = true
		}
		keys = keys[n:]
	}
	return known, nil
}
