package sqlstore_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)

func newPatient(first, last, userID string) patient.Patient {
	return patient.Patient{
		ID: service.NewID(), UserID: userID,
		Profile: patient.Profile{
			FirstName: first, LastName: last, DateOfBirth: patient.MustDate("1980-05-17"), Sex: patient.SexFemale,
			Email: first + "." + last + "@example.org", Phone: "+4915112345678",
			Address:           patient.Address{Line1: "Hauptstraße 1", City: "Berlin", PostalCode: "10115", Country: "DE"},
			EmergencyContact:  patient.EmergencyContact{Name: "Max", Relationship: "spouse", Phone: "+4915187654321"},
			PreferredLanguage: "de", BloodType: "AB-",
		},
		Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0,
	}
}

func event(patientID string, action patient.Action) patient.AuditEvent {
	return patient.AuditEvent{ID: service.NewID(), OccurredAt: t0, UserID: "u1", Role: "ADMIN", Action: action,
		Resource: patient.ResourcePatient, PatientID: patientID, Outcome: patient.OutcomeAllowed, RequestID: "req-1"}
}

func auditCount(t *testing.T, s *sqlstore.Store, patientID string) int {
	t.Helper()
	page, err := s.ListAudit(context.Background(), patient.AuditQuery{PatientID: patientID, Limit: 100})
	require.NoError(t, err)
	return len(page.Items)
}

func TestPatientRepository(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		t.Cleanup(func() { _ = s.Close() })

		p := newPatient("Ada", "Lovelace", service.NewID())
		require.NoError(t, s.CreatePatient(ctx, p, event(p.ID, patient.ActionCreate)))
		assert.Equal(t, 1, auditCount(t, s, p.ID), "the create event is stored with the patient")

		got, err := s.PatientByID(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, p, got)
		got, err = s.PatientByUserID(ctx, p.UserID)
		require.NoError(t, err)
		assert.Equal(t, p.ID, got.ID)

		_, err = s.PatientByID(ctx, service.NewID())
		assert.ErrorIs(t, err, patient.ErrNotFound)
		_, err = s.PatientByUserID(ctx, "")
		assert.ErrorIs(t, err, patient.ErrNotFound)

		t.Run("second profile for a user conflicts and leaves no audit event", func(t *testing.T) {
			dup := newPatient("Other", "Person", p.UserID)
			err := s.CreatePatient(ctx, dup, event(dup.ID, patient.ActionCreate))
			assert.ErrorIs(t, err, patient.ErrProfileExists)
			assert.Equal(t, 0, auditCount(t, s, dup.ID))
		})

		t.Run("patients without an account may be many", func(t *testing.T) {
			for i := 0; i < 2; i++ {
				q := newPatient("Walk", "In", "")
				require.NoError(t, s.CreatePatient(ctx, q, event(q.ID, patient.ActionCreate)))
				got, err := s.PatientByID(ctx, q.ID)
				require.NoError(t, err)
				assert.Empty(t, got.UserID)
			}
		})

		t.Run("update checks the version", func(t *testing.T) {
			next := p
			next.FirstName, next.Version, next.UpdatedAt = "Augusta Ada", 2, t0.Add(time.Hour)
			next.Address = patient.Address{}
			require.NoError(t, s.UpdatePatient(ctx, next, event(p.ID, patient.ActionUpdate)))
			got, err := s.PatientByID(ctx, p.ID)
			require.NoError(t, err)
			assert.Equal(t, next, got)
			assert.Equal(t, 2, auditCount(t, s, p.ID))

			stale := p
			stale.Version = 2 // from version 1, which is no longer stored
			assert.ErrorIs(t, s.UpdatePatient(ctx, stale, event(p.ID, patient.ActionUpdate)), patient.ErrStaleVersion)
			assert.Equal(t, 2, auditCount(t, s, p.ID), "a failed update writes no event")

			missing := newPatient("No", "Body", "")
			missing.Version = 2
			assert.ErrorIs(t, s.UpdatePatient(ctx, missing, event(missing.ID, patient.ActionUpdate)), patient.ErrNotFound)
		})

		t.Run("update to another user's id conflicts", func(t *testing.T) {
			q := newPatient("Grace", "Hopper", service.NewID())
			require.NoError(t, s.CreatePatient(ctx, q, event(q.ID, patient.ActionCreate)))
			q.UserID, q.Version = p.UserID, 2
			assert.ErrorIs(t, s.UpdatePatient(ctx, q, event(q.ID, patient.ActionUpdate)), patient.ErrProfileExists)
		})
	})
}

func TestSearchPatients(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		t.Cleanup(func() { _ = s.Close() })
		names := [][2]string{
			{"John", "Smith"}, {"Jane", "Smithers"}, {"Smitty", "Jones"}, {"Anna", "Smith"}, {"Bob", "Brown"},
			{"Smith", "Smith"}, {"Zoe", "O'Neil"}, {"Al", "100%_Pure"}, {"Ünal", "Çelik"},
		}
		var all []patient.Patient
		for i, n := range names {
			p := newPatient(n[0], n[1], "")
			if i == 4 {
				p.DateOfBirth = patient.MustDate("1999-12-31")
				p.Email = "Bob@Example.ORG"
			}
			all = append(all, p)
		}
		require.NoError(t, s.BulkInsertPatients(ctx, all))
		n, err := s.CountPatients(ctx)
		require.NoError(t, err)
		assert.Equal(t, len(names), n)

		search := func(q patient.SearchQuery) []string {
			t.Helper()
			page, err := s.SearchPatients(ctx, q)
			require.NoError(t, err)
			var out []string
			for _, p := range page.Items {
				out = append(out, p.FirstName+" "+p.LastName)
			}
			return out
		}
		// Ordered by the matching name, then the other name: last-name
		// matches and first-name matches interleave.
		assert.Equal(t, []string{"Anna Smith", "John Smith", "Smith Smith", "Jane Smithers"},
			search(patient.SearchQuery{Query: "SMITH"}))
		assert.Equal(t, []string{"Anna Smith", "John Smith", "Smith Smith", "Jane Smithers", "Smitty Jones"},
			search(patient.SearchQuery{Query: "  smi"}))
		assert.Equal(t, []string{"Jane Smithers", "John Smith", "Smitty Jones"}, search(patient.SearchQuery{Query: "j"}))
		assert.Equal(t, []string{"Al 100%_Pure"}, search(patient.SearchQuery{Query: "100%_"}))
		assert.Empty(t, search(patient.SearchQuery{Query: "%"}), "wildcards are literal")
		assert.Empty(t, search(patient.SearchQuery{Query: "_"}))
		assert.Equal(t, []string{"Zoe O'Neil"}, search(patient.SearchQuery{Query: "o'n"}))
		assert.Equal(t, []string{"Ünal Çelik"}, search(patient.SearchQuery{Query: "ün"}))
		assert.Equal(t, []string{"Bob Brown"}, search(patient.SearchQuery{DateOfBirth: patient.MustDate("1999-12-31")}))
		assert.Equal(t, []string{"Bob Brown"}, search(patient.SearchQuery{Email: "bob@example.org"}))
		assert.Equal(t, []string{"Bob Brown"}, search(patient.SearchQuery{Query: "b", Email: "BOB@example.org"}))
		assert.Empty(t, search(patient.SearchQuery{Query: "smith", DateOfBirth: patient.MustDate("1999-12-31")}))
		assert.Len(t, search(patient.SearchQuery{}), len(names))

		t.Run("keyset pages cover every match once, stable under inserts", func(t *testing.T) {
			for _, q := range []string{"", "smi", "j"} {
				want := search(patient.SearchQuery{Query: q, Limit: 100})
				var got []string
				cursor := ""
				for i := 0; ; i++ {
					page, err := s.SearchPatients(ctx, patient.SearchQuery{Query: q, Limit: 2, Cursor: cursor})
					require.NoError(t, err)
					for _, p := range page.Items {
						got = append(got, p.FirstName+" "+p.LastName)
					}
					if i == 0 {
						// A patient inserted before the first page's keys does not shift later pages.
						early := newPatient("Aaron", "Aardvark", "")
						require.NoError(t, s.BulkInsertPatients(ctx, []patient.Patient{early}))
					}
					if page.Next == "" {
						break
					}
					cursor = page.Next
				}
				assert.Equal(t, want, got, "query %q", q)
			}
		})

		_, err = s.SearchPatients(ctx, patient.SearchQuery{Cursor: "not-a-cursor"})
		assert.ErrorIs(t, err, patient.ErrInvalidCursor)
	})
}

func entry(patientID string, typ patient.EntryType, status patient.EntryStatus) patient.HistoryEntry {
	return patient.HistoryEntry{
		ID: service.NewID(), PatientID: patientID,
		Clinical: patient.Clinical{Type: typ, Description: "Peanut allergy", Code: "91935009", CodeSystem: "http://snomed.info/sct",
			Status: status, OnsetDate: patient.MustDate("2001-02-03"), Severity: patient.SeveritySevere, Notes: "line 1\nline 2"},
		RecordedBy: "doctor-1", RecordedAt: t0, Version: 1,
	}
}

func TestHistoryRepository(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		t.Cleanup(func() { _ = s.Close() })
		p := newPatient("Ada", "Lovelace", "")
		require.NoError(t, s.CreatePatient(ctx, p, event(p.ID, patient.ActionCreate)))
		other := newPatient("Grace", "Hopper", "")
		require.NoError(t, s.CreatePatient(ctx, other, event(other.ID, patient.ActionCreate)))

		e := entry(p.ID, patient.TypeAllergy, patient.StatusActive)
		require.NoError(t, s.CreateEntry(ctx, e, event(p.ID, patient.ActionCreate)))
		got, err := s.EntryByID(ctx, p.ID, e.ID)
		require.NoError(t, err)
		assert.Equal(t, e, got)
		_, err = s.EntryByID(ctx, other.ID, e.ID)
		assert.ErrorIs(t, err, patient.ErrNotFound, "an entry is found only under its own patient")

		bad := entry(service.NewID(), patient.TypeNote, patient.StatusActive)
		assert.ErrorIs(t, s.CreateEntry(ctx, bad, event(bad.PatientID, patient.ActionCreate)), patient.ErrNotFound)

		amended := e
		amended.Description, amended.Status, amended.EndDate = "Peanut allergy, outgrown", patient.StatusResolved, patient.MustDate("2010-01-01")
		amended.AmendedBy, amended.AmendedAt, amended.Version = "doctor-2", t0.Add(time.Hour), 2
		require.NoError(t, s.UpdateEntry(ctx, amended, event(p.ID, patient.ActionUpdate)))
		assert.ErrorIs(t, s.UpdateEntry(ctx, amended, event(p.ID, patient.ActionUpdate)), patient.ErrStaleVersion)
		wrong := amended
		wrong.PatientID, wrong.Version = other.ID, 3
		assert.ErrorIs(t, s.UpdateEntry(ctx, wrong, event(other.ID, patient.ActionUpdate)), patient.ErrNotFound)

		retracted := amended
		retracted.Status, retracted.Version = patient.StatusEnteredInError, 3
		require.NoError(t, s.UpdateEntry(ctx, retracted, event(p.ID, patient.ActionDelete)))

		revs, err := s.Revisions(ctx, p.ID, e.ID)
		require.NoError(t, err)
		require.Len(t, revs, 3)
		assert.Equal(t, e, revs[0], "the first revision is kept as recorded")
		assert.Equal(t, amended, revs[1])
		assert.Equal(t, retracted, revs[2])
		revs, err = s.Revisions(ctx, other.ID, e.ID)
		require.NoError(t, err)
		assert.Empty(t, revs)

		cond := entry(p.ID, patient.TypeCondition, patient.StatusActive)
		med := entry(p.ID, patient.TypeMedication, patient.StatusInactive)
		med.Severity = ""
		require.NoError(t, s.CreateEntry(ctx, cond, event(p.ID, patient.ActionCreate)))
		require.NoError(t, s.CreateEntry(ctx, med, event(p.ID, patient.ActionCreate)))
		require.NoError(t, s.CreateEntry(ctx, entry(other.ID, patient.TypeCondition, patient.StatusActive), event(other.ID, patient.ActionCreate)))

		ids := func(q patient.HistoryQuery) []string {
			t.Helper()
			q.PatientID = p.ID
			page, err := s.ListEntries(ctx, q)
			require.NoError(t, err)
			var out []string
			for _, e := range page.Items {
				out = append(out, e.ID)
			}
			return out
		}
		assert.Equal(t, []string{cond.ID, med.ID}, ids(patient.HistoryQuery{}), "entered-in-error is left out unless asked for")
		assert.Equal(t, []string{e.ID}, ids(patient.HistoryQuery{Statuses: []patient.EntryStatus{patient.StatusEnteredInError}}))
		assert.Equal(t, []string{cond.ID}, ids(patient.HistoryQuery{Types: []patient.EntryType{patient.TypeCondition}}))
		assert.Equal(t, []string{med.ID}, ids(patient.HistoryQuery{Statuses: []patient.EntryStatus{patient.StatusInactive}}))
		assert.Equal(t, []string{e.ID, cond.ID}, ids(patient.HistoryQuery{
			Types:    []patient.EntryType{patient.TypeAllergy, patient.TypeCondition},
			Statuses: []patient.EntryStatus{patient.StatusActive, patient.StatusEnteredInError}}))

		page, err := s.ListEntries(ctx, patient.HistoryQuery{PatientID: p.ID, Limit: 1})
		require.NoError(t, err)
		require.Len(t, page.Items, 1)
		require.NotEmpty(t, page.Next)
		page, err = s.ListEntries(ctx, patient.HistoryQuery{PatientID: p.ID, Limit: 1, Cursor: page.Next})
		require.NoError(t, err)
		assert.Equal(t, med.ID, page.Items[0].ID)
		assert.Empty(t, page.Next)
		_, err = s.ListEntries(ctx, patient.HistoryQuery{PatientID: p.ID, Cursor: "%%%"})
		assert.ErrorIs(t, err, patient.ErrInvalidCursor)
	})
}

func TestAuditRepository(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		t.Cleanup(func() { _ = s.Close() })
		pid := service.NewID()
		var evs []patient.AuditEvent
		for i := 0; i < 300; i++ {
			ev := event(pid, patient.ActionRead)
			ev.OccurredAt = t0.Add(time.Duration(i) * time.Second)
			ev.RequestID = fmt.Sprint("req-", i)
			evs = append(evs, ev)
		}
		evs[1].Outcome, evs[1].Role = patient.OutcomeDenied, "PATIENT"
		evs = append(evs, event("", patient.ActionSearch))
		require.NoError(t, s.AppendAudit(ctx, evs...))

		var got []patient.AuditEvent
		cursor := ""
		for {
			page, err := s.ListAudit(ctx, patient.AuditQuery{PatientID: pid, Limit: 100, Cursor: cursor})
			require.NoError(t, err)
			got = append(got, page.Items...)
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
		require.Len(t, got, 300)
		assert.Equal(t, evs[299], got[0], "newest first")
		assert.Equal(t, evs[1], got[298])
		assert.Equal(t, evs[0], got[299])

		_, err := db.ExecContext(ctx, "UPDATE audit_events SET outcome = 'allowed'")
		assert.Error(t, err, "audit events cannot be changed")
		_, err = db.ExecContext(ctx, "DELETE FROM audit_events")
		assert.Error(t, err, "audit events cannot be deleted")
		assert.Equal(t, 100, auditCount(t, s, pid))
	})
}

// TestTamperedCursors checks that a cursor not given out by a list is an
// invalid cursor on every list and every database, never a query error: on
// MySQL a key outside ASCII compared with an id column fails the query.
func TestTamperedCursors(t *testing.T) {
	forge := func(keys string) string { return base64.RawURLEncoding.EncodeToString([]byte(keys)) }
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := sqlstore.New(db)
		t.Cleanup(func() { _ = s.Close() })
		pid := service.NewID()
		for _, c := range []string{"%%%", forge(`null`), forge(`[1]`), forge(`["é"]`), forge(`["é😀"]`),
			forge(`["` + strings.ToUpper(pid)[:35] + `"]`), forge(`["a","b"]`)} {
			_, err := s.ListEntries(ctx, patient.HistoryQuery{PatientID: pid, Cursor: c})
			assert.ErrorIs(t, err, patient.ErrInvalidCursor, "history %s", c)
			_, err = s.ListAudit(ctx, patient.AuditQuery{PatientID: pid, Cursor: c})
			assert.ErrorIs(t, err, patient.ErrInvalidCursor, "audit %s", c)
		}
		for _, c := range []string{forge(`["é","é","é"]`), forge(`["a","b"]`), forge(`["a","b","c","d"]`), forge(`["a","b",1]`)} {
			_, err := s.SearchPatients(ctx, patient.SearchQuery{Query: "a", Cursor: c})
			assert.ErrorIs(t, err, patient.ErrInvalidCursor, "search %s", c)
			_, err = s.SearchPatients(ctx, patient.SearchQuery{Cursor: c})
			assert.ErrorIs(t, err, patient.ErrInvalidCursor, "search %s", c)
		}
		// Name keys outside ASCII are fine: they select another page.
		page, err := s.SearchPatients(ctx, patient.SearchQuery{Query: "é", Cursor: forge(`["😀","é","` + pid + `"]`)})
		require.NoError(t, err)
		assert.Empty(t, page.Items)
	})
}
