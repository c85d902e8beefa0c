package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
)

const encCols = "patient_id, doctor_id, status, appointment_id, subjective, objective, assessment, plan, " +
	"diagnoses, prescriptions, created_at, updated_at, signed_at, error_reason"

type diagnosisJSON struct {
	Code       string `json:"code,omitempty"`
	CodeSystem string `json:"codeSystem,omitempty"`
	Display    string `json:"display"`
}

type prescriptionJSON struct {
	Medication   string `json:"medication"`
	Code         string `json:"code,omitempty"`
	CodeSystem   string `json:"codeSystem,omitempty"`
	Dosage       string `json:"dosage,omitempty"`
	Instructions string `json:"instructions,omitempty"`
}

func encArgs(e record.Encounter) ([]any, error) {
	dx := make([]diagnosisJSON, len(e.Diagnoses))
	for i, d := range e.Diagnoses {
		dx[i] = diagnosisJSON(d)
	}
	rx := make([]prescriptionJSON, len(e.Prescriptions))
	for i, p := range e.Prescriptions {
		rx[i] = prescriptionJSON(p)
	}
	dj, err := json.Marshal(dx)
	if err != nil {
		return nil, fmt.Errorf("encode diagnoses: %w", err)
	}
	rj, err := json.Marshal(rx)
	if err != nil {
		return nil, fmt.Errorf("encode prescriptions: %w", err)
	}
	return []any{e.PatientID, e.DoctorID, string(e.Status), e.AppointmentID, e.Note.Subjective, e.Note.Objective,
		e.Note.Assessment, e.Note.Plan, string(dj), string(rj), e.CreatedAt.UTC(), e.UpdatedAt.UTC(), nullTime(e.SignedAt),
		e.ErrorReason}, nil
}

// scanEncounter reads a row of id (or encounter_id), version and encCols.
func scanEncounter(sc scanner) (record.Encounter, error) {
	var (
		e        record.Encounter
		status   string
		dj, rj   string
		signedAt sql.NullTime
	)
	if err := sc.Scan(&e.ID, &e.Version, &e.PatientID, &e.DoctorID, &status, &e.AppointmentID, &e.Note.Subjective,
		&e.Note.Objective, &e.Note.Assessment, &e.Note.Plan, &dj, &rj, &e.CreatedAt, &e.UpdatedAt, &signedAt,
		&e.ErrorReason); err != nil {
		return record.Encounter{}, err
	}
	var dx []diagnosisJSON
	if err := json.Unmarshal([]byte(dj), &dx); err != nil {
		return record.Encounter{}, fmt.Errorf("stored diagnoses: %w", err)
	}
	var rx []prescriptionJSON
	if err := json.Unmarshal([]byte(rj), &rx); err != nil {
		return record.Encounter{}, fmt.Errorf("stored prescriptions: %w", err)
	}
	for _, d := range dx {
		e.Diagnoses = append(e.Diagnoses, record.Diagnosis(d))
	}
	for _, p := range rx {
		e.Prescriptions = append(e.Prescriptions, record.Prescription(p))
	}
	e.Status = record.EncounterStatus(status)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	if signedAt.Valid {
		e.SignedAt = signedAt.Time.UTC()
	}
	return e, nil
}

var (
	insertEncounter = "INSERT INTO encounters (id, version, " + encCols + ") VALUES (" + sqldb.Placeholders(16) + ")"
	insertEncRev    = "INSERT INTO encounter_revisions (encounter_id, version, " + encCols + ") VALUES (" + sqldb.Placeholders(16) + ")"
	// The status conditions keep a signed note from being overwritten even
	// by a caller who skipped the service's checks; the triggers refuse it
	// whatever the caller.
	updateEncounter = "UPDATE encounters SET version = ?, patient_id = ?, doctor_id = ?, status = ?, appointment_id = ?, " +
		"subjective = ?, objective = ?, assessment = ?, plan = ?, diagnoses = ?, prescriptions = ?, created_at = ?, " +
		"updated_at = ?, signed_at = ?, error_reason = ? WHERE id = ? AND patient_id = ? AND version = ? " +
		"AND (status = 'open' OR (status = 'signed' AND ? = 'entered-in-error'))"
)

func insertEncounterRevision(ctx context.Context, tx *sql.Tx, e record.Encounter) error {
	args, err := encArgs(e)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, insertEncRev, append([]any{e.ID, e.Version}, args...)...); err != nil {
		return fmt.Errorf("insert encounter revision: %w", err)
	}
	return nil
}

// CreateEncounter stores e as its first revision, with ev.
func (s *Store) CreateEncounter(ctx context.Context, e record.Encounter, ev record.AuditEvent) error {
	args, err := encArgs(e)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertEncounter, append([]any{e.ID, e.Version}, args...)...); err != nil {
			return fmt.Errorf("insert encounter: %w", err)
		}
		if err := insertEncounterRevision(ctx, tx, e); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, ev)
	})
}

// UpdateEncounter stores e as a new revision if the stored one is
// e.Version-1 and may still change.
func (s *Store) UpdateEncounter(ctx context.Context, e record.Encounter, ev record.AuditEvent, out ...events.Event) error {
	args, err := encArgs(e)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		full := append([]any{e.Version}, args...)
		full = append(full, e.ID, e.PatientID, e.Version-1, string(e.Status))
		res, err := tx.ExecContext(ctx, updateEncounter, full...)
		if err != nil {
			return fmt.Errorf("update encounter: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("update encounter: %w", err)
		} else if n != 1 {
			return whyNotUpdated(ctx, tx, e)
		}
		if err := insertEncounterRevision(ctx, tx, e); err != nil {
			return err
		}
		if err := outbox.Write(ctx, tx, out...); err != nil {
			return err
		}
		return appendAuditTx(ctx, tx, ev)
	})
}

// whyNotUpdated tells why an UPDATE of e touched no row.
func whyNotUpdated(ctx context.Context, tx *sql.Tx, e record.Encounter) error {
	var status string
	var version int64
	err := tx.QueryRowContext(ctx, "SELECT status, version FROM encounters WHERE id = ? AND patient_id = ?", e.ID, e.PatientID).
		Scan(&status, &version)
	switch {
	case err == sql.ErrNoRows:
		return record.ErrNotFound
	case err != nil:
		return fmt.Errorf("read encounter: %w", err)
	case status == string(record.EncounterEnteredInError):
		return record.ErrEnteredInError
	case version != e.Version-1:
		return record.ErrStaleVersion
	default:
		return record.ErrSigned
	}
}

// EncounterByID returns an encounter of a patient at its current revision.
func (s *Store) EncounterByID(ctx context.Context, patientID, id string) (record.Encounter, error) {
	rows, err := s.stmts.Query(ctx, "SELECT id, version, "+encCols+" FROM encounters WHERE id = ? AND patient_id = ?", id, patientID)
	if err != nil {
		return record.Encounter{}, fmt.Errorf("get encounter: %w", err)
	}
	items, err := sqldb.Collect(rows, scanEncounter)
	if err != nil {
		return record.Encounter{}, fmt.Errorf("get encounter: %w", err)
	}
	if len(items) == 0 {
		return record.Encounter{}, record.ErrNotFound
	}
	return items[0], nil
}

// ListEncounters returns a patient's encounters, newest first (ids are
// UUID v7, ordered by time).
func (s *Store) ListEncounters(ctx context.Context, q record.EncounterQuery) (page.Page[record.Encounter], error) {
	limit := page.ClampLimit(q.Limit)
	where, args := "patient_id = ?", []any{q.PatientID}
	if q.Cursor != "" {
		after, err := page.DecodeKeys(q.Cursor, 1)
		if err != nil {
			return page.Page[record.Encounter]{}, err
		}
		where += " AND id < ?"
		args = append(args, after[0])
	}
	args = append(args, limit+1)
	rows, err := s.stmts.Query(ctx, "SELECT id, version, "+encCols+" FROM encounters WHERE "+where+" ORDER BY id DESC LIMIT ?", args...)
	if err != nil {
		return page.Page[record.Encounter]{}, fmt.Errorf("list encounters: %w", err)
	}
	items, err := sqldb.Collect(rows, scanEncounter)
	if err != nil {
		return page.Page[record.Encounter]{}, fmt.Errorf("list encounters: %w", err)
	}
	return page.Cut(items, limit, func(last record.Encounter) []string { return []string{last.ID} }), nil
}

// EncounterRevisions returns every revision of an encounter, oldest first.
func (s *Store) EncounterRevisions(ctx context.Context, patientID, id string) ([]record.Encounter, error) {
	rows, err := s.stmts.Query(ctx, "SELECT encounter_id, version, "+encCols+
		" FROM encounter_revisions WHERE encounter_id = ? AND patient_id = ? ORDER BY version", id, patientID)
	if err != nil {
		return nil, fmt.Errorf("list encounter revisions: %w", err)
	}
	revs, err := sqldb.Collect(rows, scanEncounter)
	if err != nil {
		return nil, fmt.Errorf("list encounter revisions: %w", err)
	}
	if len(revs) == 0 {
		return nil, record.ErrNotFound
	}
	return revs, nil
}

// AddAddendum stores a, with ev, if its encounter is signed.
func (s *Store) AddAddendum(ctx context.Context, a record.Addendum, ev record.AuditEvent) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		status, err := encounterStatus(ctx, tx, a.PatientID, a.EncounterID, "")
		switch {
		case err == sql.ErrNoRows:
			return record.ErrNotFound
		case err != nil:
			return fmt.Errorf("read encounter: %w", err)
		case status == string(record.EncounterOpen):
			return record.ErrNotSigned
		case status == string(record.EncounterEnteredInError):
			return record.ErrEnteredInError
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO encounter_addenda (id, encounter_id, patient_id, author_id, text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
			a.ID, a.EncounterID, a.PatientID, a.AuthorID, a.Text, a.CreatedAt.UTC()); err != nil {
			return fmt.Errorf("insert addendum: %w", err)
		}
		return appendAuditTx(ctx, tx, ev)
	})
}

// Addenda returns an encounter's addenda, oldest first.
func (s *Store) Addenda(ctx context.Context, patientID, encounterID string) ([]record.Addendum, error) {
	rows, err := s.stmts.Query(ctx, "SELECT id, encounter_id, patient_id, author_id, text, created_at FROM encounter_addenda "+
		"WHERE encounter_id = ? AND patient_id = ? ORDER BY id", encounterID, patientID)
	if err != nil {
		return nil, fmt.Errorf("list addenda: %w", err)
	}
	out, err := sqldb.Collect(rows, func(sc scanner) (record.Addendum, error) {
		var a record.Addendum
		err := sc.Scan(&a.ID, &a.EncounterID, &a.PatientID, &a.AuthorID, &a.Text, &a.CreatedAt)
		a.CreatedAt = a.CreatedAt.UTC()
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list addenda: %w", err)
	}
	return out, nil
}

// Treats reports whether doctorID authored an encounter of the patient that
// was not entered in error.
func (s *Store) Treats(ctx context.Context, doctorID, patientID string) (bool, error) {
	rows, err := s.stmts.Query(ctx, "SELECT 1 FROM encounters WHERE patient_id = ? AND doctor_id = ? AND status <> ? LIMIT 1",
		patientID, doctorID, string(record.EncounterEnteredInError))
	if err != nil {
		return false, fmt.Errorf("check care relation: %w", err)
	}
	defer rows.Close()
	found := rows.Next()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("check care relation: %w", err)
	}
	return found, nil
}

// encounterStatus reads, in tx, the status of the patient's encounter id,
// with lock appended to the query (shareLock, or ""); sql.ErrNoRows when
// the patient has none.
func encounterStatus(ctx context.Context, tx *sql.Tx, patientID, id, lock string) (string, error) {
	var status string
	err := tx.QueryRowContext(ctx, "SELECT status FROM encounters WHERE id = ? AND patient_id = ?"+lock, id, patientID).Scan(&status)
	return status, err
}
