package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
)

const entryCols = "type, description, code, code_system, status, onset_date, end_date, severity, notes, " +
	"recorded_by, recorded_at, amended_by, amended_at"

func scanEntry(sc scanner, e *patient.HistoryEntry, lead ...any) error {
	var (
		typ, status, severity string
		onset, end            string
		amendedAt             sql.NullTime
	)
	dest := append(lead, &typ, &e.Description, &e.Code, &e.CodeSystem, &status, &onset, &end, &severity, &e.Notes,
		&e.RecordedBy, &e.RecordedAt, &e.AmendedBy, &amendedAt)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	var err error
	if e.OnsetDate, err = parseDate(onset); err != nil {
		return fmt.Errorf("stored onset date: %w", err)
	}
	if e.EndDate, err = parseDate(end); err != nil {
		return fmt.Errorf("stored end date: %w", err)
	}
	e.Type, e.Status, e.Severity = patient.EntryType(typ), patient.EntryStatus(status), patient.Severity(severity)
	e.RecordedAt = e.RecordedAt.UTC()
	if amendedAt.Valid {
		e.AmendedAt = amendedAt.Time.UTC()
	}
	return nil
}

// scanEntryRow reads a row of id (or entry_id), patient_id, version and
// entryCols.
func scanEntryRow(sc scanner) (patient.HistoryEntry, error) {
	var e patient.HistoryEntry
	if err := scanEntry(sc, &e, &e.ID, &e.PatientID, &e.Version); err != nil {
		return patient.HistoryEntry{}, err
	}
	return e, nil
}

func entryArgs(e patient.HistoryEntry) []any {
	return []any{string(e.Type), e.Description, e.Code, e.CodeSystem, string(e.Status), e.OnsetDate.String(),
		e.EndDate.String(), string(e.Severity), e.Notes, e.RecordedBy, e.RecordedAt.UTC(), e.AmendedBy, nullTime(e.AmendedAt)}
}

var (
	insertEntry = "INSERT INTO history_entries (id, patient_id, version, " + entryCols + ") VALUES (" + sqldb.Placeholders(16) + ")"
	insertRev   = "INSERT INTO history_revisions (entry_id, patient_id, version, " + entryCols + ") VALUES (" + sqldb.Placeholders(16) + ")"
	updateEntry = "UPDATE history_entries SET version = ?, type = ?, description = ?, code = ?, code_system = ?, " +
		"status = ?, onset_date = ?, end_date = ?, severity = ?, notes = ?, recorded_by = ?, recorded_at = ?, " +
		"amended_by = ?, amended_at = ? WHERE id = ? AND patient_id = ? AND version = ?"
)

func insertRevision(ctx context.Context, tx *sql.Tx, e patient.HistoryEntry) error {
	args := append([]any{e.ID, e.PatientID, e.Version}, entryArgs(e)...)
	if _, err := tx.ExecContext(ctx, insertRev, args...); err != nil {
		return fmt.Errorf("insert history revision: %w", err)
	}
	return nil
}

// CreateEntry stores e as its first revision, with ev.
func (s *Store) CreateEntry(ctx context.Context, e patient.HistoryEntry, ev patient.AuditEvent) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		args := append([]any{e.ID, e.PatientID, e.Version}, entryArgs(e)...)
		if _, err := tx.ExecContext(ctx, insertEntry, args...); err != nil {
			if sqldb.IsForeignKeyViolation(err) {
				return patient.ErrNotFound
			}
			return fmt.Errorf("insert history entry: %w", err)
		}
		if err := insertRevision(ctx, tx, e); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, ev)
	})
}

// UpdateEntry stores e as a new revision if the stored version is
// e.Version-1; earlier revisions stay.
func (s *Store) UpdateEntry(ctx context.Context, e patient.HistoryEntry, ev patient.AuditEvent) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		args := append([]any{e.Version}, entryArgs(e)...)
		args = append(args, e.ID, e.PatientID, e.Version-1)
		res, err := tx.ExecContext(ctx, updateEntry, args...)
		if err != nil {
			return fmt.Errorf("update history entry: %w", err)
		}
		if err := oneRow(ctx, tx, res, "history_entries", "id = ? AND patient_id = ?", e.ID, e.PatientID); err != nil {
			return err
		}
		if err := insertRevision(ctx, tx, e); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, ev)
	})
}

// EntryByID returns an entry of a patient at its current revision.
func (s *Store) EntryByID(ctx context.Context, patientID, entryID string) (patient.HistoryEntry, error) {
	rows, err := s.stmts.Query(ctx, "SELECT id, patient_id, version, "+entryCols+
		" FROM history_entries WHERE id = ? AND patient_id = ?", entryID, patientID)
	if err != nil {
		return patient.HistoryEntry{}, fmt.Errorf("get history entry: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return patient.HistoryEntry{}, fmt.Errorf("get history entry: %w", err)
		}
		return patient.HistoryEntry{}, patient.ErrNotFound
	}
	var e patient.HistoryEntry
	if err := scanEntry(rows, &e, &e.ID, &e.PatientID, &e.Version); err != nil {
		return patient.HistoryEntry{}, fmt.Errorf("scan history entry: %w", err)
	}
	return e, nil
}

// ListEntries returns a patient's entries in the order they were recorded.
func (s *Store) ListEntries(ctx context.Context, q patient.HistoryQuery) (page.Page[patient.HistoryEntry], error) {
	limit := page.ClampLimit(q.Limit)
	where := []string{"patient_id = ?"}
	args := []any{q.PatientID}
	if len(q.Types) > 0 {
		where = append(where, "type IN ("+sqldb.Placeholders(len(q.Types))+")")
		for _, t := range q.Types {
			args = append(args, string(t))
		}
	}
	if len(q.Statuses) > 0 {
		where = append(where, "status IN ("+sqldb.Placeholders(len(q.Statuses))+")")
		for _, st := range q.Statuses {
			args = append(args, string(st))
		}
	} else {
		where = append(where, "status <> ?")
		args = append(args, string(patient.StatusEnteredInError))
	}
	if q.Cursor != "" {
		after, err := page.DecodeKeys(q.Cursor, 1)
		if err != nil {
			return page.Page[patient.HistoryEntry]{}, err
		}
		where = append(where, "id > ?")
		args = append(args, after[0])
	}
	args = append(args, limit+1)
	rows, err := s.stmts.Query(ctx, "SELECT id, patient_id, version, "+entryCols+" FROM history_entries WHERE "+
		strings.Join(where, " AND ")+" ORDER BY id LIMIT ?", args...)
	if err != nil {
		return page.Page[patient.HistoryEntry]{}, fmt.Errorf("list history: %w", err)
	}
	items, err := sqldb.Collect(rows, scanEntryRow)
	if err != nil {
		return page.Page[patient.HistoryEntry]{}, fmt.Errorf("list history: %w", err)
	}
	return page.Cut(items, limit, func(last patient.HistoryEntry) []string { return []string{last.ID} }), nil
}

// Revisions returns every revision of an entry, oldest first.
func (s *Store) Revisions(ctx context.Context, patientID, entryID string) ([]patient.HistoryEntry, error) {
	rows, err := s.stmts.Query(ctx, "SELECT entry_id, patient_id, version, "+entryCols+
		" FROM history_revisions WHERE entry_id = ? AND patient_id = ? ORDER BY version", entryID, patientID)
	if err != nil {
		return nil, fmt.Errorf("list revisions: %w", err)
	}
	revs, err := sqldb.Collect(rows, scanEntryRow)
	if err != nil {
		return nil, fmt.Errorf("list revisions: %w", err)
	}
	return revs, nil
}
