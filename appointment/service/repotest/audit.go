package repotest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
)

// Trail returns a patient's audit events, newest first, every page of them.
func Trail(t *testing.T, r service.AuditRepository, patientID string) []appointment.AuditEvent {
	t.Helper()
	var out []appointment.AuditEvent
	cursor := ""
	for {
		p, err := r.ListAudit(context.Background(), appointment.AuditQuery{PatientID: patientID, Limit: 100, Cursor: cursor})
		require.NoError(t, err)
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out
		}
		cursor = p.NextCursor
	}
}

// runAudit checks the audit trail: events come back unchanged, newest
// first, in keyset pages; a write stores its event in its transaction, and
// a refused one leaves none.
func runAudit(t *testing.T, newFixture func(t *testing.T) Fixture) {
	ctx := context.Background()
	occurred := time.Date(2031, 3, 1, 10, 0, 0, 123456000, time.UTC)

	t.Run("audit: a patient's events, unchanged, newest first, in keyset pages", func(t *testing.T) {
		f := newFixture(t)
		pid := ids.New()
		var evs []appointment.AuditEvent
		for i := range 300 {
			evs = append(evs, appointment.AuditEvent{ID: ids.New(), OccurredAt: occurred.Add(time.Duration(i) * time.Second),
				UserID: ids.New(), Role: authn.RoleDoctor, Action: appointment.ActionRead, Resource: appointment.ResourceAppointment,
				PatientID: pid, ResourceID: ids.New(), Outcome: appointment.OutcomeAllowed, RequestID: fmt.Sprint("req-", i)})
		}
		evs[1].Outcome, evs[1].Role, evs[1].Action = appointment.OutcomeDenied, authn.RolePatient, appointment.ActionCancel
		evs = append(evs, appointment.AuditEvent{ID: ids.New(), OccurredAt: occurred, UserID: ids.New(), Role: authn.RoleAdmin,
			Action: appointment.ActionList, Resource: appointment.ResourceAppointment, Outcome: appointment.OutcomeAllowed})
		require.NoError(t, f.Repo.AppendAudit(ctx, evs...))

		got := Trail(t, f.Repo, pid)
		require.Len(t, got, 300, "a list's own event is on no patient's trail")
		assert.Equal(t, evs[299], got[0], "newest first")
		assert.Equal(t, evs[1], got[298])
		assert.Equal(t, evs[0], got[299])

		_, err := f.Repo.ListAudit(ctx, appointment.AuditQuery{PatientID: pid, Cursor: "%%%"})
		var fe domainerr.FieldErrors
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "cursor", fe[0].Field)
	})

	t.Run("audit: a write stores its event in its transaction, a refused one none", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		a := New(doctor, 0, 30)
		booked := Audit(a)
		booked.Action = appointment.ActionBook
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{Audit: booked}, event(t, a)))
		assert.Equal(t, []appointment.AuditEvent{booked}, Trail(t, f.Repo, a.PatientID))

		taken := New(doctor, 0, 30)
		assert.ErrorIs(t, f.Repo.Book(ctx, taken, service.BookOptions{Audit: Audit(taken)}), appointment.ErrSlotTaken)
		assert.Empty(t, Trail(t, f.Repo, taken.PatientID), "a refused booking leaves no event")

		c := a
		c.Status, c.Version, c.UpdatedBy = appointment.Arrived, 2, ids.New()
		assert.ErrorIs(t, f.Repo.Update(ctx, c, 5, Audit(c)), appointment.ErrStale)
		assert.Len(t, Trail(t, f.Repo, a.PatientID), 1, "a stale change leaves no event")
		changed := Audit(c)
		require.NoError(t, f.Repo.Update(ctx, c, 1, changed))
		assert.Equal(t, changed, Trail(t, f.Repo, a.PatientID)[0])

		// A cancellation that offers the slot: the canceller's event on the
		// patient's trail, the offer's on the waiting patient's.
		w := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: "2031-03-03", PatientID: ids.New(),
			PatientUserID: ids.New(), CreatedAt: base}
		joined := appointment.AuditEvent{ID: ids.New(), OccurredAt: occurred, UserID: w.PatientUserID, Role: authn.RolePatient,
			Action: appointment.ActionJoin, Resource: appointment.ResourceWaitlist, PatientID: w.PatientID, ResourceID: w.ID,
			Outcome: appointment.OutcomeAllowed}
		require.NoError(t, f.Repo.JoinWaitlist(ctx, w, service.PatientSeen{}, today, joined))
		again := w
		again.ID = ids.New()
		assert.ErrorIs(t, f.Repo.JoinWaitlist(ctx, again, service.PatientSeen{}, today, appointment.AuditEvent{ID: ids.New(), OccurredAt: occurred,
			PatientID: w.PatientID, Action: appointment.ActionJoin, Outcome: appointment.OutcomeAllowed}), appointment.ErrAlreadyWaiting)
		assert.Equal(t, []appointment.AuditEvent{joined}, Trail(t, f.Repo, w.PatientID), "a refused join leaves no event")

		var offerEvent appointment.AuditEvent
		offer := service.Offer{DoctorID: doctor, Start: base, Day: "2031-03-03",
			Event: func(e appointment.WaitlistEntry) (events.Event, error) {
				return events.New("appointment.slot_freed", 1, doctor, map[string]string{"offeredToPatientUserId": e.PatientUserID}, base)
			},
			Audit: func(e appointment.WaitlistEntry) appointment.AuditEvent {
				offerEvent = appointment.AuditEvent{ID: ids.New(), OccurredAt: occurred, Role: service.RoleService,
					Action: appointment.ActionOffer, Resource: appointment.ResourceWaitlist, PatientID: e.PatientID, ResourceID: e.ID,
					Outcome: appointment.OutcomeAllowed}
				return offerEvent
			}}
		x := c
		x.Status, x.Version = appointment.Cancelled, 3
		cancelled := Audit(x)
		cancelled.Action = appointment.ActionCancel
		require.NoError(t, f.Repo.UpdateAndOffer(ctx, x, 2, cancelled, offer, event(t, x)))
		assert.Equal(t, cancelled, Trail(t, f.Repo, a.PatientID)[0])
		assert.Equal(t, []appointment.AuditEvent{offerEvent, joined}, Trail(t, f.Repo, w.PatientID))

		// Leaving: the event with the deletion, none for an entry not left.
		w2 := w
		w2.ID, w2.Day = ids.New(), "2031-03-05"
		require.NoError(t, f.Repo.JoinWaitlist(ctx, w2, service.PatientSeen{}, today, appointment.AuditEvent{}))
		got, err := f.Repo.WaitlistEntry(ctx, w2.ID)
		require.NoError(t, err)
		assert.Equal(t, w2, got)
		_, err = f.Repo.WaitlistEntry(ctx, ids.New())
		assert.ErrorIs(t, err, appointment.ErrWaitlistNotFound)
		left := joined
		left.ID, left.Action, left.ResourceID = ids.New(), appointment.ActionLeave, w2.ID
		assert.ErrorIs(t, f.Repo.LeaveWaitlist(ctx, ids.New(), w2.ID, left), appointment.ErrWaitlistNotFound)
		assert.Len(t, Trail(t, f.Repo, w.PatientID), 2, "not left, no event")
		require.NoError(t, f.Repo.LeaveWaitlist(ctx, w2.PatientUserID, w2.ID, left))
		assert.Equal(t, left, Trail(t, f.Repo, w.PatientID)[0])
	})
}
