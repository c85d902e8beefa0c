package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// interleaved is the store with a concurrent writer in the window between
// a use case's read of a record and its write: afterPatient runs right
// after a patient is read, afterEntry after an entry is read, each once
// unless again is set.
type interleaved struct {
	*sqlstore.Store
	afterPatient, afterEntry func()
	again                    bool
}

func (s *interleaved) fire(h *func()) {
	if f := *h; f != nil {
		if !s.again {
			*h = nil
		}
		f()
	}
}

func (s *interleaved) PatientByID(ctx context.Context, id string) (patient.Patient, error) {
	p, err := s.Store.PatientByID(ctx, id)
	s.fire(&s.afterPatient)
	return p, err
}

func (s *interleaved) EntryByID(ctx context.Context, patientID, entryID string) (patient.HistoryEntry, error) {
	e, err := s.Store.EntryByID(ctx, patientID, entryID)
	s.fire(&s.afterEntry)
	return e, err
}

// A DELETE needs no If-Match (docs/architecture.md, "HTTP conventions"):
// one sent without it asked for no precondition, so another write landing
// between its read and its write must not make it a 412.
func TestDeleteWithoutIfMatchOutlastsAConcurrentWrite(t *testing.T) {
	ctx := context.Background()
	st := sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations()))
	store := &interleaved{Store: st}
	rec := auditlog.New[patient.AuditEvent](st, auditlog.Options{})
	t.Cleanup(func() { _ = rec.Close(ctx) })
	svc := service.New(service.Deps{Patients: store, History: store, Audit: st, Recorder: rec,
		Clock: clocktest.New(time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC))})
	admin := authn.Principal{UserID: "0190a5c4-7b1e-7cc3-8f00-0000000000aa", Roles: []string{authn.RoleAdmin}}
	profile := patient.Profile{FirstName: "Ada", LastName: "Lovelace", DateOfBirth: civil.MustParse("1985-12-10")}

	p, err := svc.CreatePatient(ctx, admin, service.NewPatient{Profile: profile})
	require.NoError(t, err)
	amend := func(id string, n int) func() {
		return func() {
			cur, err := st.EntryByID(ctx, p.ID, id)
			require.NoError(t, err)
			_, err = svc.AmendHistory(ctx, admin, p.ID, id, cur.Version, service.EntryAmendment{EntryInput: service.EntryInput{
				Clinical: patient.Clinical{Type: patient.TypeNote, Description: "amended"}}})
			require.NoError(t, err, "amendment %d", n)
		}
	}
	newEntry := func() patient.HistoryEntry {
		e, err := svc.RecordHistory(ctx, admin, p.ID, service.EntryInput{Clinical: patient.Clinical{Type: patient.TypeNote, Description: "note"}})
		require.NoError(t, err)
		return e
	}

	t.Run("retracting an entry another amends", func(t *testing.T) {
		e := newEntry()
		store.afterEntry = amend(e.ID, 1)
		require.NoError(t, svc.RetractHistory(ctx, admin, p.ID, e.ID, 0), "a DELETE without If-Match answered 412")
		got, err := st.EntryByID(ctx, p.ID, e.ID)
		require.NoError(t, err)
		assert.Equal(t, patient.StatusEnteredInError, got.Status)
		assert.Equal(t, "amended", got.Description, "the amendment is kept, not overwritten")
		assert.EqualValues(t, 3, got.Version)
	})

	t.Run("deactivating a profile another updates", func(t *testing.T) {
		store.afterPatient = func() {
			cur, err := st.PatientByID(ctx, p.ID)
			require.NoError(t, err)
			next := profile
			next.FirstName = "Augusta Ada"
			_, err = svc.UpdatePatient(ctx, admin, p.ID, cur.Version, service.PatientUpdate{NewPatient: service.NewPatient{Profile: next}})
			require.NoError(t, err)
		}
		require.NoError(t, svc.DeactivatePatient(ctx, admin, p.ID, 0), "a DELETE without If-Match answered 412")
		got, err := st.PatientByID(ctx, p.ID)
		require.NoError(t, err)
		assert.False(t, got.Active)
		assert.Equal(t, "Augusta Ada", got.FirstName, "the update is kept, not overwritten")
	})

	t.Run("with If-Match the version read is the one written", func(t *testing.T) {
		e := newEntry()
		store.afterEntry = amend(e.ID, 1)
		err := svc.RetractHistory(ctx, admin, p.ID, e.ID, e.Version)
		assert.ErrorIs(t, err, domainerr.Stale)
	})

	t.Run("a record that never stops changing is given up on", func(t *testing.T) {
		e := newEntry()
		n := 0
		// Another amendment after every read of the retraction; the
		// amendment's own read of the entry does not set off another.
		var everyRead func()
		everyRead = func() {
			n++
			store.afterEntry = nil
			amend(e.ID, n)()
			store.afterEntry = everyRead
		}
		store.afterEntry, store.again = everyRead, true
		err := svc.RetractHistory(ctx, admin, p.ID, e.ID, 0)
		store.afterEntry, store.again = nil, false
		assert.ErrorIs(t, err, domainerr.Stale, "the write is given up on")
		assert.Less(t, n, 10, "after a bounded number of attempts")
	})
}
