package repotest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/events/schematest"
	"github.com/medisync/medisync/shared/ids"
)

// PatientStatus is a patient.deactivated (active false) or
// patient.reactivated event of the patient at version, as the patient
// service writes it.
func PatientStatus(t *testing.T, patientID string, active bool, version int64) events.Event {
	t.Helper()
	typ := service.TypePatientDeactivated
	if active {
		typ = service.TypePatientReactivated
	}
	ev, err := events.New(typ, 1, patientID, map[string]any{"patientId": patientID, "version": version, "changedBy": ids.New()}, base)
	require.NoError(t, err)
	schematest.Validate(t, ev)
	return ev
}

// runPatientStatus checks the service's use of Apply for the patient
// service's events, and the repository's promises about a patient
// recorded inactive: no offer, no new wait.
func runPatientStatus(t *testing.T, newFixture func(t *testing.T) Fixture) {
	ctx := context.Background()
	newService := func(f Fixture) service.Service {
		return service.New(f.Repo, nil, nil, clocktest.New(base), ids.New, service.Options{})
	}
	type waiter struct{ patient, user string }
	newWaiter := func() waiter { return waiter{ids.New(), ids.New()} }
	join := func(t *testing.T, f Fixture, w waiter, doctor, day string, minute int) appointment.WaitlistEntry {
		t.Helper()
		e := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: day, PatientID: w.patient, PatientUserID: w.user,
			CreatedAt: base.Add(time.Duration(minute) * time.Minute)}
		require.NoError(t, f.Repo.JoinWaitlist(ctx, e, service.PatientSeen{}, today, appointment.AuditEvent{}))
		return e
	}
	waits := func(t *testing.T, f Fixture, w waiter) []appointment.WaitlistEntry {
		t.Helper()
		es, err := f.Repo.Waitlist(ctx, w.user, today)
		require.NoError(t, err)
		return es
	}
	trail := func(t *testing.T, f Fixture, w waiter) []appointment.AuditEvent {
		t.Helper()
		got, err := f.Repo.ListAudit(ctx, appointment.AuditQuery{PatientID: w.patient, Limit: 100})
		require.NoError(t, err)
		return got.Items
	}

	t.Run("patient deactivated: off every waitlist, each removal on their trail, once", func(t *testing.T) {
		f := newFixture(t)
		svc := newService(f)
		gone, stays := newWaiter(), newWaiter()
		doctor := ids.New()
		e1 := join(t, f, gone, doctor, "2031-03-03", 1)
		e2 := join(t, f, gone, ids.New(), "2031-03-05", 2)
		join(t, f, stays, doctor, "2031-03-03", 3)

		ev := PatientStatus(t, gone.patient, false, 2)
		require.NoError(t, svc.HandleEvent(ctx, ev))
		assert.Empty(t, waits(t, f, gone), "the deactivated patient waits for nothing")
		assert.Len(t, waits(t, f, stays), 1, "another patient keeps their place")
		evs := trail(t, f, gone)
		require.Len(t, evs, 2, "one event per entry removed")
		removed := map[string]bool{}
		for _, a := range evs {
			removed[a.ResourceID] = true
			assert.Equal(t, appointment.ActionLeave, a.Action)
			assert.Equal(t, appointment.ResourceWaitlist, a.Resource)
			assert.Equal(t, service.RoleService, a.Role, "on the service's own account")
			assert.Empty(t, a.UserID)
			assert.Equal(t, ev.ID, a.RequestID, "the event that told it")
			assert.Equal(t, appointment.OutcomeAllowed, a.Outcome)
		}
		assert.Equal(t, map[string]bool{e1.ID: true, e2.ID: true}, removed)
		assert.Equal(t, 0, f.Count(t, "outbox"), "nobody is offered anything")

		require.NoError(t, svc.HandleEvent(ctx, ev), "a redelivery")
		require.NoError(t, svc.HandleEvent(ctx, PatientStatus(t, gone.patient, false, 2)), "the same change in another event")
		assert.Len(t, trail(t, f, gone), 2, "changes nothing")
		assert.Equal(t, 2, f.Count(t, "processed_events"))

		// Deactivated, a patient joins no waitlist, whatever the patient
		// service answered the caller a moment before.
		e := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: "2031-03-04", PatientID: gone.patient,
			PatientUserID: gone.user, CreatedAt: base}
		assert.ErrorIs(t, f.Repo.JoinWaitlist(ctx, e, service.PatientSeen{}, today, appointment.AuditEvent{}), appointment.ErrPatientInactive)

		// Reactivated, they may wait again; their old entries do not come
		// back. A deactivation older than the reactivation changes nothing.
		require.NoError(t, svc.HandleEvent(ctx, PatientStatus(t, gone.patient, true, 3)))
		assert.Empty(t, waits(t, f, gone))
		join(t, f, gone, doctor, "2031-03-04", 4)
		require.NoError(t, svc.HandleEvent(ctx, PatientStatus(t, gone.patient, false, 2)), "arrives late")
		assert.Len(t, waits(t, f, gone), 1, "the later reactivation holds")
		require.NoError(t, svc.HandleEvent(ctx, PatientStatus(t, gone.patient, false, 4)))
		assert.Empty(t, waits(t, f, gone), "a later deactivation applies")
	})

	t.Run("a wait weighs the patient service's answer against the recorded status by version", func(t *testing.T) {
		f := newFixture(t)
		svc := newService(f)
		w := newWaiter()
		doctor := ids.New()
		e := func(day string) appointment.WaitlistEntry {
			return appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: day, PatientID: w.patient, PatientUserID: w.user, CreatedAt: base}
		}
		require.NoError(t, svc.HandleEvent(ctx, PatientStatus(t, w.patient, false, 3)))
		var inactive *service.PatientInactiveError
		err := f.Repo.JoinWaitlist(ctx, e("2031-03-03"), service.PatientSeen{Version: 2}, today, appointment.AuditEvent{})
		require.ErrorAs(t, err, &inactive, "deactivated after the answer")
		assert.Equal(t, int64(3), inactive.Version)
		assert.ErrorIs(t, err, appointment.ErrPatientInactive)
		assert.ErrorIs(t, f.Repo.JoinWaitlist(ctx, e("2031-03-03"), service.PatientSeen{Version: 3}, today, appointment.AuditEvent{}),
			appointment.ErrPatientInactive, "answered at the version recorded inactive")
		assert.ErrorIs(t, f.Repo.JoinWaitlist(ctx, e("2031-03-03"), service.PatientSeen{}, today, appointment.AuditEvent{}),
			appointment.ErrPatientInactive, "an answer without a version")
		assert.ErrorIs(t, f.Repo.JoinWaitlist(ctx, e("2031-03-03"), service.PatientSeen{Version: 2, Disowned: 4}, today, appointment.AuditEvent{}),
			appointment.ErrPatientInactive, "disowned is another version than the one recorded")
		require.NoError(t, f.Repo.JoinWaitlist(ctx, e("2031-03-03"), service.PatientSeen{Version: 4}, today, appointment.AuditEvent{}),
			"reactivated since, its event on its way")
		assert.Len(t, waits(t, f, w), 1)
		assert.Equal(t, 1, f.Count(t, "patient_status"))

		// Recorded inactive at a version above the one the patient service
		// answered when asked after: corrected, so that its next genuine
		// change applies.
		require.NoError(t, svc.HandleEvent(ctx, PatientStatus(t, w.patient, false, 90)))
		require.NoError(t, f.Repo.JoinWaitlist(ctx, e("2031-03-04"), service.PatientSeen{Version: 5, Disowned: 90}, today, appointment.AuditEvent{}))
		assert.Len(t, waits(t, f, w), 1)
		require.NoError(t, svc.HandleEvent(ctx, PatientStatus(t, w.patient, false, 6)))
		assert.Empty(t, waits(t, f, w), "the genuine deactivation after the correction applies")
	})

	t.Run("patient deactivated: a failure leaves every entry and no claim", func(t *testing.T) {
		f := newFixture(t)
		w := newWaiter()
		join(t, f, w, ids.New(), "2031-03-03", 1)
		ev := PatientStatus(t, w.patient, false, 2)
		_, err := f.Repo.Apply(ctx, ev, base, func(ctx context.Context, tx service.Tx) error {
			if _, err := tx.SetPatientStatus(ctx, w.patient, false, 2, base); err != nil {
				return err
			}
			if _, err := tx.RemoveWaits(ctx, w.patient, func(e appointment.WaitlistEntry) appointment.AuditEvent {
				return Audit(New(ids.New(), 0, 30))
			}); err != nil {
				return err
			}
			// A fault after the removal.
			return assert.AnError
		})
		require.ErrorIs(t, err, assert.AnError)
		assert.Len(t, waits(t, f, w), 1, "the entry stays")
		assert.Equal(t, 0, f.Count(t, "processed_events"), "the event is not claimed")
		assert.Equal(t, 0, f.Count(t, "patient_status"), "nor the status recorded")
		require.NoError(t, newService(f).HandleEvent(ctx, ev), "a redelivery applies")
		assert.Empty(t, waits(t, f, w))
	})

	t.Run("patient deactivated: no wait joined meanwhile outlasts it", func(t *testing.T) {
		f := newFixture(t)
		w := newWaiter()
		doctor := ids.New()
		const joins = 12
		var wg sync.WaitGroup
		errs := make(chan error, joins+1)
		start := make(chan struct{})
		for i := range joins {
			wg.Go(func() {
				<-start
				e := appointment.WaitlistEntry{ID: ids.New(), DoctorID: doctor, Day: fmt.Sprintf("2031-04-%02d", i+1), PatientID: w.patient,
					PatientUserID: w.user, CreatedAt: base}
				errs <- f.Repo.JoinWaitlist(ctx, e, service.PatientSeen{}, today, appointment.AuditEvent{})
			})
		}
		deactivated := PatientStatus(t, w.patient, false, 2)
		wg.Go(func() {
			<-start
			errs <- newService(f).HandleEvent(ctx, deactivated)
		})
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				assert.ErrorIs(t, err, appointment.ErrPatientInactive, "a wait is either stored, then removed, or refused")
			}
		}
		assert.Empty(t, waits(t, f, w), "every wait stored before the deactivation was removed with it")
	})

	t.Run("a freed slot passes over the entries of a patient recorded inactive", func(t *testing.T) {
		f := newFixture(t)
		doctor := ids.New()
		inactive, next := newWaiter(), newWaiter()
		first := join(t, f, inactive, doctor, "2031-03-03", 1)
		join(t, f, next, doctor, "2031-03-03", 2)
		// The status alone, the entry left in place: the offer must not
		// rely on the removal.
		_, err := f.Repo.Apply(ctx, PatientStatus(t, inactive.patient, false, 2), base, func(ctx context.Context, tx service.Tx) error {
			_, err := tx.SetPatientStatus(ctx, inactive.patient, false, 2, base)
			return err
		})
		require.NoError(t, err)

		a := New(doctor, 0, 30)
		require.NoError(t, f.Repo.Book(ctx, a, service.BookOptions{}))
		var offered []string
		offer := service.Offer{DoctorID: doctor, Start: base, Day: "2031-03-03", Event: func(e appointment.WaitlistEntry) (events.Event, error) {
			offered = append(offered, e.PatientID)
			return events.New("appointment.slot_freed", 1, doctor, map[string]string{"offeredToPatientId": e.PatientID}, base)
		}}
		c := a
		c.Status, c.Version = appointment.Cancelled, 2
		require.NoError(t, f.Repo.UpdateAndOffer(ctx, c, 1, Audit(c), offer))
		assert.Equal(t, []string{next.patient}, offered, "the next active patient")
		if got := waits(t, f, inactive); assert.Len(t, got, 1) {
			assert.Equal(t, first.ID, got[0].ID, "the inactive patient's entry is not taken")
		}
		assert.Empty(t, waits(t, f, next))

		b := New(doctor, 60, 90)
		require.NoError(t, f.Repo.Book(ctx, b, service.BookOptions{}))
		c = b
		c.Status, c.Version = appointment.Cancelled, 2
		require.NoError(t, f.Repo.UpdateAndOffer(ctx, c, 1, Audit(c), offer))
		assert.Len(t, offered, 1, "nobody active is left waiting")
	})

	t.Run("patient status events that cannot apply are malformed", func(t *testing.T) {
		f := newFixture(t)
		svc := newService(f)
		for name, data := range map[string]map[string]any{
			"no patient id":   {"version": 2},
			"not a UUID":      {"patientId": "p-1", "version": 2},
			"no version":      {"patientId": ids.New()},
			"version of zero": {"patientId": ids.New(), "version": 0},
		} {
			ev, err := events.New(service.TypePatientDeactivated, 1, ids.New(), data, base)
			require.NoError(t, err)
			assert.ErrorIs(t, svc.HandleEvent(ctx, ev), service.ErrMalformed, name)
		}
		ev := PatientStatus(t, ids.New(), false, 2)
		ev.DataSchema = "docs/events/patient.deactivated.v2.json"
		assert.ErrorIs(t, svc.HandleEvent(ctx, ev), service.ErrMalformed, "schema version 2")
		assert.Equal(t, 0, f.Count(t, "processed_events"))
	})
}
