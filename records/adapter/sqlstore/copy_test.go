package sqlstore_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/dbcopy"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestCopyToPostgres fills a MariaDB and a SQLite database through the store
// (an encounter edited, signed with its event in the outbox, an addendum,
// the audit trail), copies each with dbcopy into an empty PostgreSQL
// database migrated from the embedded migrations, and serves the copy: the
// same encounter, revisions and addenda, and the signed note still refuses
// change.
func TestCopyToPostgres(t *testing.T) {
	sqltest.EachSource(t, sqlstore.Migrations(), func(t *testing.T, src *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(src)
		t.Cleanup(func() { _ = s.Close() })
		pid, doc := ids.New(), ids.New()
		now := time.Now().UTC().Truncate(time.Microsecond)
		e := record.Encounter{ID: ids.New(), PatientID: pid, DoctorID: doc, Status: record.EncounterOpen,
			Clinical: record.Clinical{Note: record.Note{Subjective: "Ból głowy od tygodnia 🩺\nthree days  "},
				Diagnoses:     []record.Diagnosis{{Code: "J06.9", CodeSystem: "http://hl7.org/fhir/sid/icd-10", Display: "URTI"}},
				Prescriptions: []record.Prescription{{Medication: "paracetamol", Dosage: "500 mg"}}},
			CreatedAt: now, UpdatedAt: now, Version: 1}
		must(t, s.CreateEncounter(ctx, e, ev(pid)))
		e.Note.Plan, e.Version = "rest", 2
		must(t, s.UpdateEncounter(ctx, e, ev(pid)))
		e.Status, e.SignedAt, e.Version = record.EncounterSigned, now, 3
		must(t, s.UpdateEncounter(ctx, e, ev(pid), event(t, e.ID)))
		must(t, s.AddAddendum(ctx, record.Addendum{ID: ids.New(), EncounterID: e.ID, PatientID: pid, AuthorID: doc, Text: "Łukasz: correction", CreatedAt: now}, ev(pid)))

		dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
		must(t, err)
		t.Cleanup(func() { _ = dst.Close() })
		rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations()})
		must(t, err)
		if !rep.OK() || len(rep.TargetOnly) > 0 {
			t.Fatalf("report: %v, only in the target: %v", rep.Differences(), rep.TargetOnly)
		}

		pg := sqlstore.New(dst)
		t.Cleanup(func() { _ = pg.Close() })
		read := func(s *sqlstore.Store) (record.Encounter, []record.Encounter, []record.Addendum) {
			enc, err := s.EncounterByID(ctx, pid, e.ID)
			must(t, err)
			revs, err := s.EncounterRevisions(ctx, pid, e.ID)
			must(t, err)
			add, err := s.Addenda(ctx, pid, e.ID)
			must(t, err)
			return enc, revs, add
		}
		wantEnc, wantRevs, wantAdd := read(s)
		gotEnc, gotRevs, gotAdd := read(pg)
		if !reflect.DeepEqual(wantEnc, gotEnc) || !reflect.DeepEqual(wantRevs, gotRevs) || !reflect.DeepEqual(wantAdd, gotAdd) {
			t.Fatalf("the copy reads\n%+v %+v %+v\nthe source\n%+v %+v %+v", gotEnc, gotRevs, gotAdd, wantEnc, wantRevs, wantAdd)
		}
		changed := e
		changed.Note.Plan, changed.Status, changed.Version = "changed", record.EncounterOpen, 4
		if err := pg.UpdateEncounter(ctx, changed, ev(pid)); err == nil {
			t.Fatal("the copy let a signed note change")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
