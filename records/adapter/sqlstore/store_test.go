package sqlstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func ev(patientID string) record.AuditEvent {
	return record.AuditEvent{ID: ids.New(), OccurredAt: time.Now().UTC().Truncate(time.Microsecond), UserID: "u", Role: "DOCTOR",
		Action: record.ActionCreate, Resource: record.ResourceEncounter, PatientID: patientID, Outcome: record.OutcomeAllowed}
}

func event(t *testing.T, subject string) events.Event {
	t.Helper()
	e, err := events.New("records.encounter_signed", 1, subject, map[string]string{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestStore(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := sqlstore.New(db)
		t.Cleanup(func() { _ = s.Close() })
		ctx := context.Background()
		pid, doc := ids.New(), ids.New()
		now := time.Now().UTC().Truncate(time.Microsecond)
		e := record.Encounter{ID: ids.New(), PatientID: pid, DoctorID: doc, Status: record.EncounterOpen,
			Clinical: record.Clinical{Note: record.Note{Subjective: "cough\nthree days"},
				Diagnoses:     []record.Diagnosis{{Code: "J06.9", CodeSystem: "http://hl7.org/fhir/sid/icd-10", Display: "URTI"}},
				Prescriptions: []record.Prescription{{Medication: "paracetamol", Dosage: "500 mg"}}},
			CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := s.CreateEncounter(ctx, e, ev(pid)); err != nil {
			t.Fatal(err)
		}
		got, err := s.EncounterByID(ctx, pid, e.ID)
		if err != nil || got.Note.Subjective != e.Note.Subjective || len(got.Diagnoses) != 1 || got.Diagnoses[0].Code != "J06.9" || got.Prescriptions[0].Dosage != "500 mg" {
			t.Fatalf("EncounterByID = %+v, %v", got, err)
		}
		if _, err := s.EncounterByID(ctx, ids.New(), e.ID); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("another patient's encounter: %v", err)
		}
		if ok, err := s.Treats(ctx, doc, pid); !ok || err != nil {
			t.Fatalf("Treats = %v, %v", ok, err)
		}
		if ok, _ := s.Treats(ctx, ids.New(), pid); ok {
			t.Fatal("another doctor treats")
		}

		// Edit, sign; then the signed note refuses change, even if the service were bypassed.
		e.Note.Plan, e.Version = "rest", 2
		if err := s.UpdateEncounter(ctx, e, ev(pid)); err != nil {
			t.Fatal(err)
		}
		stale := e
		stale.Version = 2
		if err := s.UpdateEncounter(ctx, stale, ev(pid)); !errors.Is(err, record.ErrStaleVersion) {
			t.Fatalf("stale update = %v", err)
		}
		// The signing's event goes to the outbox with it; a refused update
		// writes none.
		e.Status, e.SignedAt, e.Version = record.EncounterSigned, now, 3
		if err := s.UpdateEncounter(ctx, e, ev(pid), event(t, e.ID)); err != nil {
			t.Fatal(err)
		}
		changed := e
		changed.Note.Plan, changed.Status, changed.Version = "changed", record.EncounterOpen, 4
		if err := s.UpdateEncounter(ctx, changed, ev(pid), event(t, e.ID)); !errors.Is(err, record.ErrSigned) {
			t.Fatalf("update of a signed note = %v, want ErrSigned", err)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE subject = ?", e.ID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("outbox holds %d events of the encounter, %v; want 1", n, err)
		}
		if _, err := db.ExecContext(ctx, "UPDATE encounters SET plan = ? WHERE id = ?", "sneaky", e.ID); err == nil {
			t.Fatal("the database let a signed note change")
		}
		// Marking it entered-in-error changes its status only: not a byte
		// of the note (not even its case, which MariaDB's collation calls
		// equal), nor whom or what it is about.
		for _, change := range []struct{ col, val string }{
			{"subjective", "Cough\nthree days"},
			{"doctor_id", ids.New()},
			{"patient_id", ids.New()},
			{"appointment_id", ids.New()},
		} {
			if _, err := db.ExecContext(ctx, "UPDATE encounters SET status = 'entered-in-error', "+change.col+" = ? WHERE id = ?", change.val, e.ID); err == nil {
				t.Fatalf("the database let a signed note's %s change as it was marked entered-in-error", change.col)
			}
		}
		if _, err := db.ExecContext(ctx, "DELETE FROM encounters WHERE id = ?", e.ID); err == nil {
			t.Fatal("the database let an encounter be deleted")
		}

		a := record.Addendum{ID: ids.New(), EncounterID: e.ID, PatientID: pid, AuthorID: doc, Text: "correction", CreatedAt: now}
		if err := s.AddAddendum(ctx, a, ev(pid)); err != nil {
			t.Fatal(err)
		}
		add, err := s.Addenda(ctx, pid, e.ID)
		if err != nil || len(add) != 1 || add[0].Text != "correction" {
			t.Fatalf("Addenda = %+v, %v", add, err)
		}
		e.Status, e.ErrorReason, e.Version = record.EncounterEnteredInError, "wrong patient", 4
		if err := s.UpdateEncounter(ctx, e, ev(pid)); err != nil {
			t.Fatalf("retract a signed note: %v", err)
		}
		revs, err := s.EncounterRevisions(ctx, pid, e.ID)
		if err != nil || len(revs) != 4 || revs[0].Note.Plan != "" || revs[1].Note.Plan != "rest" || revs[3].Status != record.EncounterEnteredInError {
			t.Fatalf("revisions = %d, %v", len(revs), err)
		}
		for _, q := range []string{"UPDATE encounter_revisions SET plan = 'x'", "DELETE FROM encounter_revisions",
			"UPDATE encounter_addenda SET text = 'x'", "DELETE FROM audit_events"} {
			if _, err := db.ExecContext(ctx, q); err == nil {
				t.Errorf("%s succeeded on an append-only table", q)
			}
		}

		// Lists page newest first.
		for range 3 {
			x := e
			x.ID, x.Status, x.Version = ids.New(), record.EncounterOpen, 1
			if err := s.CreateEncounter(ctx, x, ev(pid)); err != nil {
				t.Fatal(err)
			}
		}
		p1, err := s.ListEncounters(ctx, record.EncounterQuery{PatientID: pid, Limit: 3})
		if err != nil || len(p1.Items) != 3 || p1.NextCursor == "" || p1.Items[0].ID < p1.Items[1].ID {
			t.Fatalf("page 1 = %d %q %v", len(p1.Items), p1.NextCursor, err)
		}
		p2, err := s.ListEncounters(ctx, record.EncounterQuery{PatientID: pid, Limit: 3, Cursor: p1.NextCursor})
		if err != nil || len(p2.Items) != 1 || p2.NextCursor != "" || p2.Items[0].ID != e.ID {
			t.Fatalf("page 2 = %+v %v", p2, err)
		}

		// Documents: a new version supersedes the old one, in one transaction.
		d := record.Document{ID: ids.New(), PatientID: pid, Status: record.DocumentCurrent, Type: "lab", Title: "CBC",
			ContentType: record.TypePDF, Size: 10, SHA256: "ab", AuthorID: doc, Date: now, BlobKey: "documents/1", Version: 1}
		if err := createDocument(ctx, s, d, ev(pid)); err != nil {
			t.Fatal(err)
		}
		d2 := d
		d2.ID, d2.BlobKey, d2.Replaces = ids.New(), "documents/2", d.ID
		if err := createDocument(ctx, s, d2, ev(pid)); err != nil {
			t.Fatal(err)
		}
		d3 := d2
		d3.ID, d3.BlobKey = ids.New(), "documents/3"
		if err := createDocument(ctx, s, d3, ev(pid)); !errors.Is(err, record.ErrNotCurrent) {
			t.Fatalf("replacing a superseded document = %v", err)
		}
		old, _ := s.DocumentByID(ctx, pid, d.ID)
		if old.Status != record.DocumentSuperseded || old.Version != 2 {
			t.Fatalf("old version = %+v", old)
		}
		list, err := s.ListDocuments(ctx, record.DocumentQuery{PatientID: pid})
		if err != nil || len(list.Items) != 1 || list.Items[0].ID != d2.ID || list.Items[0].Replaces != d.ID {
			t.Fatalf("current documents = %+v %v", list.Items, err)
		}
		d2.Status, d2.ErrorReason, d2.Version = record.DocumentEnteredInError, "wrong file", 2
		if err := s.RetractDocument(ctx, d2, ev(pid)); err != nil {
			t.Fatal(err)
		}
		if err := s.RetractDocument(ctx, d2, ev(pid)); !errors.Is(err, record.ErrEnteredInError) {
			t.Fatalf("second retraction = %v", err)
		}
		known, err := s.KnownBlobKeys(ctx, []string{"documents/1", "documents/2", "documents/3"})
		if err != nil || !known["documents/1"] || !known["documents/2"] || known["documents/3"] {
			t.Fatalf("KnownBlobKeys = %v %v", known, err)
		}

		// The audit trail, with a break-glass reason, newest first.
		bg := ev(pid)
		bg.Reason, bg.Action = "emergency", record.ActionRead
		if err := s.AppendAudit(ctx, bg); err != nil {
			t.Fatal(err)
		}
		tr, err := s.ListAudit(ctx, record.AuditQuery{PatientID: pid, Limit: 1})
		if err != nil || len(tr.Items) != 1 || tr.Items[0].Reason != "emergency" {
			t.Fatalf("audit = %+v %v", tr.Items, err)
		}
	})
}

// Concurrent writers race for one state change: two new versions of one
// document, two signatures of one note. Exactly one of each wins; the
// others are told why, and nothing is half-written. A version never
// supersedes another patient's document.
func TestConcurrentChanges(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s, first := storeWithDocument(t, db)
		ctx, pid := context.Background(), first.PatientID
		doc := func(replaces string) record.Document { return newDocument(pid, replaces) }
		foreign := doc(first.ID)
		foreign.PatientID = ids.New()
		if err := createDocument(ctx, s, foreign, ev(foreign.PatientID)); !errors.Is(err, record.ErrNotCurrent) {
			t.Fatalf("a version on another patient superseding this one's document: %v", err)
		}

		const n = 4
		errs := make(chan error, n)
		for range n {
			go func() { errs <- createDocument(ctx, s, doc(first.ID), ev(pid)) }()
		}
		won := 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				won++
			case errors.Is(err, record.ErrNotCurrent), sqldb.IsRetryable(err):
			default:
				t.Fatalf("concurrent version: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d versions superseded one document", won)
		}
		all, err := s.ListDocuments(ctx, record.DocumentQuery{PatientID: pid, Limit: 100,
			Statuses: []record.DocumentStatus{record.DocumentCurrent, record.DocumentSuperseded}})
		if err != nil || len(all.Items) != 2 {
			t.Fatalf("documents after the race: %d, %v", len(all.Items), err)
		}

		now := time.Now().UTC().Truncate(time.Microsecond)
		e := record.Encounter{ID: ids.New(), PatientID: pid, DoctorID: "d", Status: record.EncounterOpen, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := s.CreateEncounter(ctx, e, ev(pid)); err != nil {
			t.Fatal(err)
		}
		for range n {
			go func() {
				signed := e
				signed.Status, signed.SignedAt, signed.Version = record.EncounterSigned, now, 2
				errs <- s.UpdateEncounter(ctx, signed, ev(pid))
			}()
		}
		won = 0
		for range n {
			switch err := <-errs; {
			case err == nil:
				won++
			case errors.Is(err, record.ErrStaleVersion), errors.Is(err, record.ErrSigned), sqldb.IsRetryable(err):
			default:
				t.Fatalf("concurrent signature: %v", err)
			}
		}
		revs, err := s.EncounterRevisions(ctx, pid, e.ID)
		if won != 1 || err != nil || len(revs) != 2 {
			t.Fatalf("%d signatures won, %d revisions, %v", won, len(revs), err)
		}
	})
}

// createDocument stages a document and commits it.
func createDocument(ctx context.Context, s *sqlstore.Store, d record.Document, ev record.AuditEvent) error {
	p, err := s.StageDocument(ctx, d, ev)
	if err != nil {
		return err
	}
	return p.Commit()
}

// A staged document is seen by no one until committed, and a rolled-back
// one leaves neither its row, nor its audit event, nor a superseded
// version behind.
func TestStagedDocumentCommitsOrLeavesNothing(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s, first := storeWithDocument(t, db)
		ctx, pid := context.Background(), first.PatientID
		doc := func(replaces string) record.Document { return newDocument(pid, replaces) }
		audits := func() int {
			tr, err := s.ListAudit(ctx, record.AuditQuery{PatientID: pid, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return len(tr.Items)
		}
		before := audits()

		second := doc(first.ID)
		p, err := s.StageDocument(ctx, second, ev(pid))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.DocumentByID(ctx, pid, second.ID); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("a staged document is seen before its commit: %v", err)
		}
		// Other writes go on meanwhile, on SQLite too, whose writers take
		// turns: the content of a staged document may take a while to store.
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := s.AppendAudit(wctx, ev(ids.New())); err != nil {
			t.Fatalf("a write while a document is staged: %v", err)
		}
		if err := p.Rollback(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DocumentByID(ctx, pid, second.ID); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("a rolled-back document = %v", err)
		}
		if old, err := s.DocumentByID(ctx, pid, first.ID); err != nil || old.Status != record.DocumentCurrent || old.Version != 1 {
			t.Fatalf("the version a rolled-back one replaced = %+v %v", old, err)
		}
		if n := audits(); n != before {
			t.Fatalf("audit events %d after a rollback, %d before", n, before)
		}

		p, err = s.StageDocument(ctx, second, ev(pid))
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Commit(); err != nil {
			t.Fatal(err)
		}
		if got, err := s.DocumentByID(ctx, pid, second.ID); err != nil || got.Replaces != first.ID {
			t.Fatalf("a committed document = %+v %v", got, err)
		}
		if n := audits(); n != before+1 {
			t.Fatalf("audit events %d after a commit, %d before", n, before)
		}
	})
}

// A document linked to an encounter is written only while the encounter
// is not entered-in-error, checked in the transaction that writes it: one
// linked to an encounter marked so is ErrEncounterEnteredInError, and
// leaves neither its row nor its audit event; one linked to no encounter
// of its patient is ErrUnknownEncounter. The staged document holds no lock
// on the encounter while its content is stored, so a retraction meanwhile
// is made at once; the commit checks the encounter again and is refused.
func TestDocumentOfAnEncounterEnteredInErrorIsRefusedAsItIsWritten(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s, first := storeWithDocument(t, db)
		ctx, pid := context.Background(), first.PatientID
		now := time.Now().UTC().Truncate(time.Microsecond)
		open := func() record.Encounter {
			e := record.Encounter{ID: ids.New(), PatientID: pid, DoctorID: "d", Status: record.EncounterOpen, CreatedAt: now, UpdatedAt: now, Version: 1}
			if err := s.CreateEncounter(ctx, e, ev(pid)); err != nil {
				t.Fatal(err)
			}
			return e
		}
		retracted := func(e record.Encounter) record.Encounter {
			e.Status, e.ErrorReason, e.Version = record.EncounterEnteredInError, "wrong patient", e.Version+1
			return e
		}
		linked := func(e record.Encounter) record.Document {
			d := newDocument(pid, "")
			d.EncounterID = e.ID
			return d
		}
		audits := func() int {
			tr, err := s.ListAudit(ctx, record.AuditQuery{PatientID: pid, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return len(tr.Items)
		}

		e := open()
		if err := createDocument(ctx, s, linked(e), ev(pid)); err != nil {
			t.Fatalf("a document linked to an open encounter: %v", err)
		}
		if err := s.UpdateEncounter(ctx, retracted(e), ev(pid)); err != nil {
			t.Fatal(err)
		}
		before := audits()
		refused := linked(e)
		if err := createDocument(ctx, s, refused, ev(pid)); !errors.Is(err, record.ErrEncounterEnteredInError) {
			t.Fatalf("a document linked to an encounter entered-in-error = %v, want ErrEncounterEnteredInError", err)
		}
		if _, err := s.DocumentByID(ctx, pid, refused.ID); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("the refused document = %v, want none", err)
		}
		if n := audits(); n != before {
			t.Fatalf("audit events %d after the refused document, %d before", n, before)
		}
		other := linked(e)
		other.EncounterID = ids.New()
		if err := createDocument(ctx, s, other, ev(pid)); !errors.Is(err, record.ErrUnknownEncounter) {
			t.Fatalf("a document linked to no encounter of its patient = %v, want ErrUnknownEncounter", err)
		}

		// The encounter is marked entered-in-error while a document linked
		// to it is staged, its content still being stored.
		e = open()
		staged := linked(e)
		p, err := s.StageDocument(ctx, staged, ev(pid))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = p.Rollback() }()
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := s.UpdateEncounter(rctx, retracted(e), ev(pid)); err != nil {
			t.Fatalf("retraction while a document linked to the encounter is staged: %v, want it made at once", err)
		}
		before = audits()
		if err := p.Commit(); !errors.Is(err, record.ErrEncounterEnteredInError) {
			t.Fatalf("a staged document committed after its encounter was marked entered-in-error = %v, want ErrEncounterEnteredInError", err)
		}
		if _, err := s.DocumentByID(ctx, pid, staged.ID); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("the refused staged document = %v, want none", err)
		}
		if n := audits(); n != before {
			t.Fatalf("audit events %d after the refused staged document, %d before", n, before)
		}
	})
}

// A change of an encounter (here its signing) is made at once while a
// document linked to it is staged, its content still being stored (up to
// the upload's deadline): the staged document holds no lock on the
// encounter, and commits after it.
func TestEncounterIsSignedAtOnceWhileALinkedDocumentIsStaged(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s, first := storeWithDocument(t, db)
		ctx, pid := context.Background(), first.PatientID
		now := time.Now().UTC().Truncate(time.Microsecond)
		e := record.Encounter{ID: ids.New(), PatientID: pid, DoctorID: "d", Status: record.EncounterOpen, CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := s.CreateEncounter(ctx, e, ev(pid)); err != nil {
			t.Fatal(err)
		}
		d := newDocument(pid, "")
		d.EncounterID = e.ID
		p, err := s.StageDocument(ctx, d, ev(pid))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = p.Rollback() }()

		signed := e
		signed.Status, signed.Version, signed.UpdatedAt = record.EncounterSigned, 2, now.Add(time.Second)
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := s.UpdateEncounter(sctx, signed, ev(pid)); err != nil {
			t.Fatalf("signing the encounter while a linked document is staged: %v, want it signed at once", err)
		}
		if err := p.Commit(); err != nil {
			t.Fatalf("the staged document linked to the encounter signed meanwhile: %v", err)
		}
		if _, err := s.DocumentByID(ctx, pid, d.ID); err != nil {
			t.Fatalf("the committed document: %v", err)
		}
	})
}

// newDocument is a current document of patient pid, replacing replaces
// when set.
func newDocument(pid, replaces string) record.Document {
	id := ids.New()
	return record.Document{ID: id, PatientID: pid, Status: record.DocumentCurrent, Type: "t", Title: "t",
		ContentType: record.TypePDF, Size: 1, SHA256: "00", AuthorID: "a", Date: time.Now().UTC().Truncate(time.Microsecond),
		Replaces: replaces, BlobKey: "documents/" + id, Version: 1}
}

// storeWithDocument is a store on db holding one current document of a
// fresh patient.
func storeWithDocument(t *testing.T, db *sqldb.DB) (*sqlstore.Store, record.Document) {
	t.Helper()
	s := sqlstore.New(db)
	t.Cleanup(func() { _ = s.Close() })
	first := newDocument(ids.New(), "")
	if err := createDocument(context.Background(), s, first, ev(first.PatientID)); err != nil {
		t.Fatal(err)
	}
	return s, first
}

// Batches of audit events come in every size; their INSERTs must not each
// be prepared on every connection, or a shared MySQL server runs out of
// prepared statements (max_prepared_stmt_count) for every service on it.
func TestAuditBatchesPrepareNoStatementPerSize(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		s := sqlstore.New(db)
		t.Cleanup(func() { _ = s.Close() })
		ctx, pid := context.Background(), ids.New()
		for n := 1; n <= 20; n++ {
			evs := make([]record.AuditEvent, n)
			for i := range evs {
				evs[i] = ev(pid)
			}
			if err := s.AppendAudit(ctx, evs...); err != nil {
				t.Fatal(err)
			}
		}
		if n := sqlstore.PreparedStatements(s); n > 1 {
			t.Fatalf("%d statements prepared, want the single event's only", n)
		}
	})
}

// On a MariaDB database created with latin1 as its default, no column is
// left in latin1: the outbox's envelopes carry names as written.
func TestSchemaDoesNotDependOnTheDatabaseCharset(t *testing.T) {
	db := sqltest.MySQLLatin1(t, sqlstore.Migrations())
	if cols := sqltest.MySQLColumnsIn(t, db, "latin1"); len(cols) > 0 {
		t.Errorf("columns in latin1: %v", cols)
	}
}

// Marking a signed note entered-in-error may not add or drop even a
// trailing blank of it: MariaDB's trigger compares bytes, as SQLite's and
// PostgreSQL's compare the text exactly.
func TestSignedNoteTriggerSeesTrailingSpaces(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		id := ids.New()
		now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		if _, err := db.ExecContext(ctx, `INSERT INTO encounters (id, patient_id, doctor_id, status, appointment_id,
			subjective, objective, assessment, plan, diagnoses, prescriptions, created_at, updated_at, signed_at, error_reason, version)
			VALUES (?, ?, ?, 'signed', '', 'Chest pain since Monday.', '', 'Angina?', '', '[]', '[]', ?, ?, ?, '', 2)`,
			id, ids.New(), ids.New(), now, now, now); err != nil {
			t.Fatal(err)
		}
		for _, subjective := range []string{"Chest pain since Monday.   ", "Chest pain since Monday. "} {
			if _, err := db.ExecContext(ctx, `UPDATE encounters SET status = 'entered-in-error', error_reason = 'wrong patient',
				subjective = ?, version = 3 WHERE id = ?`, subjective, id); err == nil {
				t.Fatalf("the database let trailing blanks be added to a signed section (%q)", subjective)
			}
		}
		var got string
		if err := db.QueryRowContext(ctx, `SELECT subjective FROM encounters WHERE id = ?`, id).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != "Chest pain since Monday." {
			t.Fatalf("subjective = %q, want the signed text", got)
		}
	})
}
