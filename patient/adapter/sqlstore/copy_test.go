package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/patient/service/servicetest"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/dbcopy"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// running is the service over one database, as cmd/patient wires it.
type running struct {
	svc      service.Service
	store    *sqlstore.Store
	recorder *auditlog.Batcher[patient.AuditEvent]
}

func run(t *testing.T, db *sqldb.DB, clk *clocktest.Clock) running {
	store := sqlstore.New(db)
	recorder := auditlog.New[patient.AuditEvent](store, auditlog.Options{})
	t.Cleanup(func() {
		_ = recorder.Close(context.Background())
		_ = store.Close()
	})
	return running{
		svc: service.New(service.Deps{Patients: store, History: store, Audit: store, Recorder: recorder, Clock: clk,
			Care: servicetest.EveryDoctor{}}),
		store: store, recorder: recorder,
	}
}

// snapshot is everything the store gives back about the patients.
type snapshot struct {
	Patients  []patient.Patient
	History   [][]patient.HistoryEntry
	Revisions map[string][]patient.HistoryEntry
	Audit     [][]patient.AuditEvent
}

func read(t *testing.T, s *sqlstore.Store, patientIDs []string) snapshot {
	t.Helper()
	ctx := context.Background()
	snap := snapshot{Revisions: map[string][]patient.HistoryEntry{}}
	for _, id := range patientIDs {
		p, err := s.PatientByID(ctx, id)
		require.NoError(t, err)
		snap.Patients = append(snap.Patients, p)
		var entries []patient.HistoryEntry
		for cursor := ""; ; {
			pg, err := s.ListEntries(ctx, patient.HistoryQuery{PatientID: id, Limit: 2, Cursor: cursor})
			require.NoError(t, err)
			entries = append(entries, pg.Items...)
			if cursor = pg.NextCursor; cursor == "" {
				break
			}
		}
		snap.History = append(snap.History, entries)
		for _, e := range entries {
			revs, err := s.Revisions(ctx, id, e.ID)
			require.NoError(t, err)
			snap.Revisions[e.ID] = revs
		}
		var events []patient.AuditEvent
		for cursor := ""; ; {
			pg, err := s.ListAudit(ctx, patient.AuditQuery{PatientID: id, Limit: 3, Cursor: cursor})
			require.NoError(t, err)
			events = append(events, pg.Items...)
			if cursor = pg.NextCursor; cursor == "" {
				break
			}
		}
		snap.Audit = append(snap.Audit, events)
	}
	return snap
}

// TestCopyToPostgres fills a MariaDB database through the service, as a
// clinic would over months, copies it with dbcopy into an empty PostgreSQL
// database migrated from the embedded migrations, and serves the copy:
// profiles, versions, every history revision and the whole audit trail
// come back as they were, and the copy takes new writes.
func TestCopyToPostgres(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Date(2026, 2, 1, 8, 30, 0, 123456789, time.UTC))
	admin := authn.Principal{UserID: ids.New(), Roles: []string{authn.RoleAdmin}}
	doctor := authn.Principal{UserID: ids.New(), Roles: []string{authn.RoleDoctor}}

	src := sqltest.MySQL(t, sqlstore.Migrations())
	mysql := run(t, src, clk)
	var patientIDs []string
	var owner authn.Principal
	for i, name := range []struct{ first, last string }{{"Zoë", "Müller"}, {"Łukasz", "O'Brien"}, {"李", "王"}} {
		clk.Advance(37 * time.Minute)
		in := service.NewPatient{Profile: patient.Profile{
			FirstName: name.first, LastName: name.last, DateOfBirth: civil.MustParse("1984-02-29"), Sex: patient.SexFemale,
			Email: "p" + string(rune('a'+i)) + "@example.org", Phone: "+4915112345678",
			Address:           patient.Address{Line1: "Hauptstraße 1", Line2: "3. OG", City: "Berlin", PostalCode: "10115", Country: "DE"},
			EmergencyContact:  patient.EmergencyContact{Name: "Max", Relationship: "spouse", Phone: "+4915187654321"},
			PreferredLanguage: "de", BloodType: "AB-",
		}}
		userID := ids.New()
		if i == 0 {
			in.UserID = &userID
			owner = authn.Principal{UserID: userID, Roles: []string{authn.RolePatient}}
		}
		p, err := mysql.svc.CreatePatient(ctx, admin, in)
		require.NoError(t, err)
		patientIDs = append(patientIDs, p.ID)
	}

	// The first patient: two profile updates, a chart with amendments and a
	// retraction, reads by staff and the patient, and a refused read.
	first, err := mysql.svc.GetPatient(ctx, admin, patientIDs[0])
	require.NoError(t, err)
	for _, phone := range []string{"+4915100000001", "+4915100000002"} {
		clk.Advance(time.Hour)
		upd := service.PatientUpdate{NewPatient: service.NewPatient{Profile: first.Profile}}
		upd.Phone = phone
		first, err = mysql.svc.UpdatePatient(ctx, owner, first.ID, first.Version, upd)
		require.NoError(t, err)
	}
	require.EqualValues(t, 3, first.Version)
	allergy, err := mysql.svc.RecordHistory(ctx, doctor, first.ID, service.EntryInput{Clinical: patient.Clinical{
		Type: patient.TypeAllergy, Description: "Penicillin allergy", Code: "91936005", CodeSystem: "http://snomed.info/sct",
		OnsetDate: civil.MustParse("2001-02-03"), Severity: patient.SeveritySevere, Notes: "Rash;\nno anaphylaxis. «ok»",
	}})
	require.NoError(t, err)
	for _, sev := range []patient.Severity{patient.SeverityModerate, patient.SeverityMild} {
		clk.Advance(24 * time.Hour)
		c := allergy.Clinical
		c.Severity = sev
		allergy, err = mysql.svc.AmendHistory(ctx, doctor, first.ID, allergy.ID, allergy.Version, service.EntryAmendment{EntryInput: service.EntryInput{Clinical: c}})
		require.NoError(t, err)
	}
	require.EqualValues(t, 3, allergy.Version)
	note, err := mysql.svc.RecordHistory(ctx, doctor, first.ID, service.EntryInput{Clinical: patient.Clinical{
		Type: patient.TypeNote, Description: "Follow-up in six weeks"}})
	require.NoError(t, err)
	require.NoError(t, mysql.svc.RetractHistory(ctx, doctor, first.ID, note.ID, note.Version))
	_, err = mysql.svc.RecordHistory(ctx, doctor, first.ID, service.EntryInput{Clinical: patient.Clinical{
		Type: patient.TypeMedication, Description: "Metformin 500 mg", Status: patient.StatusActive, OnsetDate: civil.MustParse("2025-11-30")}})
	require.NoError(t, err)
	_, err = mysql.svc.MyPatient(ctx, owner)
	require.NoError(t, err)
	_, err = mysql.svc.GetPatient(ctx, owner, patientIDs[1])
	require.Error(t, err, "a patient reads no other record")
	_, err = mysql.svc.HistoryRevisions(ctx, doctor, first.ID, allergy.ID)
	require.NoError(t, err)
	require.NoError(t, mysql.recorder.Close(ctx)) // every queued read and denial is stored

	want := read(t, mysql.store, patientIDs)
	require.Len(t, want.Revisions[allergy.ID], 3)
	require.GreaterOrEqual(t, len(want.Audit[0]), 10, "writes, reads and the refusal are all in the trail")

	// The copy, into an empty database the copy migrates.
	dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = dst.Close() })
	rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations(), BatchRows: 2})
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.Differences())
	rows := map[string]int64{}
	for _, tr := range rep.Tables {
		rows[tr.Table] = tr.TargetRows
	}
	assert.EqualValues(t, 3, rows["patients"])
	assert.EqualValues(t, 3, rows["history_entries"])
	assert.GreaterOrEqual(t, rows["history_revisions"], int64(5), "every revision")
	audited := 0
	for _, evs := range want.Audit {
		audited += len(evs)
	}
	assert.GreaterOrEqual(t, rows["audit_events"], int64(audited), "the whole trail")
	again, err := dbcopy.Verify(ctx, src, dst)
	require.NoError(t, err)
	require.True(t, again.OK())

	// The copy, served.
	pg := run(t, dst, clk)
	assert.Equal(t, want, read(t, pg.store, patientIDs))
	clk.Advance(time.Hour)
	_, err = pg.svc.UpdatePatient(ctx, owner, first.ID, 2, service.PatientUpdate{NewPatient: service.NewPatient{Profile: first.Profile}})
	require.ErrorIs(t, err, patient.ErrStaleVersion, "the copy keeps the versions")
	upd := service.PatientUpdate{NewPatient: service.NewPatient{Profile: first.Profile}}
	upd.Phone = "+4915100000003"
	got, err := pg.svc.UpdatePatient(ctx, owner, first.ID, 3, upd)
	require.NoError(t, err)
	assert.EqualValues(t, 4, got.Version)
	c := allergy.Clinical
	c.Status = patient.StatusResolved
	amended, err := pg.svc.AmendHistory(ctx, doctor, first.ID, allergy.ID, 3, service.EntryAmendment{EntryInput: service.EntryInput{Clinical: c}})
	require.NoError(t, err)
	assert.EqualValues(t, 4, amended.Version)
	require.NoError(t, pg.recorder.Close(ctx))
	after := read(t, pg.store, patientIDs[:1])
	assert.Len(t, after.Revisions[allergy.ID], 4)
	assert.Greater(t, len(after.Audit[0]), len(want.Audit[0]), "the trail goes on")
	assert.Equal(t, want.Audit[0], after.Audit[0][len(after.Audit[0])-len(want.Audit[0]):], "the copied trail is untouched")
}
