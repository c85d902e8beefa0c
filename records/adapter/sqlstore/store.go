// Package sqlstore keeps encounters with every revision and addendum,
// document metadata and the audit trail in SQLite, MySQL/MariaDB or
// PostgreSQL through database/sql, with the schema in embedded goose
// migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrations returns the schema migrations, a folder per dialect.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded folder is fixed at build time
	}
	return sub
}

// Store is the repository of encounters, documents and audit events.
type Store struct {
	db    *sqldb.DB
	stmts *sqldb.Stmts
}

// New returns a Store on a migrated database.
func New(db *sqldb.DB) *Store { return &Store{db: db, stmts: sqldb.NewStmts(db)} }

// Close releases the prepared statements (not the database).
func (s *Store) Close() error { return s.stmts.Close() }

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// --- audit -----------------------------------------------------------------

const auditCols = "id, occurred_at, user_id, role, action, resource, patient_id, resource_id, outcome, request_id, reason"

// maxAuditRows bounds one multi-row INSERT.
const maxAuditRows = 256

// AppendAudit stores events with multi-row INSERTs outside any transaction.
func (s *Store) AppendAudit(ctx context.Context, evs ...record.AuditEvent) error {
	if err := s.stmts.InsertRows(ctx, auditHead, 11, maxAuditRows, auditArgs(evs)); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

const auditHead = "INSERT INTO audit_events (" + auditCols + ") VALUES"

func auditInsert(n int) string {
	return auditHead + " " + sqldb.Rows(11, n)
}

func auditArgs(evs []record.AuditEvent) []any {
	args := make([]any, 0, 11*len(evs))
	for _, e := range evs {
		args = append(args, e.ID, e.OccurredAt.UTC(), e.UserID, e.Role, string(e.Action), e.Resource,
			e.PatientID, e.ResourceID, string(e.Outcome), e.RequestID, e.Reason)
	}
	return args
}

func appendAuditTx(ctx context.Context, tx *sql.Tx, ev record.AuditEvent) error {
	if _, err := tx.ExecContext(ctx, auditInsert(1), auditArgs([]record.AuditEvent{ev})...); err != nil {
		return fmt.Errorf("append audit event: %w", err)
	}
	return nil
}

// ListAudit returns a patient's audit events, newest first.
func (s *Store) ListAudit(ctx context.Context, q record.AuditQuery) (page.Page[record.AuditEvent], error) {
	limit := page.ClampLimit(q.Limit)
	args := []any{q.PatientID}
	where := "patient_id = ?"
	if q.Cursor != "" {
		after, err := page.DecodeKeys(q.Cursor, 1)
		if err != nil {
			return page.Page[record.AuditEvent]{}, err
		}
		where += " AND id < ?"
		args = append(args, after[0])
	}
	args = append(args, limit+1)
	rows, err := s.stmts.Query(ctx, "SELECT "+auditCols+" FROM audit_events WHERE "+where+" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return page.Page[record.AuditEvent]{}, fmt.Errorf("list audit events: %w", err)
	}
	items, err := sqldb.Collect(rows, scanAuditEvent)
	if err != nil {
		return page.Page[record.AuditEvent]{}, fmt.Errorf("list audit events: %w", err)
	}
	return page.Cut(items, limit, func(last record.AuditEvent) []string { return []string{last.ID} }), nil
}

// scanAuditEvent reads a row of auditCols.
func scanAuditEvent(sc scanner) (record.AuditEvent, error) {
	var e record.AuditEvent
	var action, outcome string
	if err := sc.Scan(&e.ID, &e.OccurredAt, &e.UserID, &e.Role, &action, &e.Resource, &e.PatientID,
		&e.ResourceID, &outcome, &e.RequestID, &e.Reason); err != nil {
		return record.AuditEvent{}, err
	}
	e.Action, e.Outcome, e.OccurredAt = record.Action(action), record.Outcome(outcome), e.OccurredAt.UTC()
	return e, nil
}

// scanner is a row being read.
type scanner = sqldb.Scanner
