package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/events/schematest"
	"github.com/medisync/medisync/shared/ids"
)

// EventsFixture is a store under test with what its writes left in its
// outbox, read as the relay reads it.
type EventsFixture struct {
	Repos Repositories
	// Outbox returns the events about subject written to the outbox,
	// oldest first.
	Outbox func(t *testing.T, subject string) []events.Event
}

// direct records an audit event at once, for a service under test.
type direct struct{ r service.AuditRepository }

func (d direct) Record(ctx context.Context, ev patient.AuditEvent) error {
	return d.r.AppendAudit(ctx, ev)
}

func statusEvent(t *testing.T, typ string, p patient.Patient) events.Event {
	t.Helper()
	ev, err := events.New(typ, 1, p.ID, service.StatusChangedData{PatientID: p.ID, Version: p.Version, ChangedBy: ids.New()}, t0)
	require.NoError(t, err)
	return ev
}

// RunStatusEventsContract checks that a record's status change and its
// event (patient.deactivated, patient.reactivated) are written in one
// transaction: both or neither, whatever fails; and that the service
// writes one event per change, and none for anything else.
func RunStatusEventsContract(t *testing.T, newFixture func(t *testing.T) EventsFixture) {
	ctx := context.Background()

	t.Run("an update stores its events with the change", func(t *testing.T) {
		f := newFixture(t)
		p := newPatient("Ada", "Lovelace", ids.New())
		require.NoError(t, f.Repos.CreatePatient(ctx, p, event(p.ID, patient.ActionCreate)))
		next := p
		next.Active, next.Version, next.UpdatedAt = false, 2, t0.Add(time.Minute)
		out := statusEvent(t, service.TypeDeactivated, next)
		require.NoError(t, f.Repos.UpdatePatient(ctx, next, event(p.ID, patient.ActionDelete), out))
		got, err := f.Repos.PatientByID(ctx, p.ID)
		require.NoError(t, err)
		assert.False(t, got.Active)
		if evs := f.Outbox(t, p.ID); assert.Len(t, evs, 1) {
			assert.Equal(t, out.ID, evs[0].ID)
			assert.Equal(t, service.TypeDeactivated, evs[0].Type)
			assert.Equal(t, p.ID, evs[0].Subject)
			assert.JSONEq(t, string(out.Data), string(evs[0].Data))
		}
	})

	t.Run("a refused update stores neither the change nor its events", func(t *testing.T) {
		f := newFixture(t)
		p := newPatient("Ada", "Lovelace", ids.New())
		require.NoError(t, f.Repos.CreatePatient(ctx, p, event(p.ID, patient.ActionCreate)))
		first := p
		first.Active, first.Version = false, 2
		written := statusEvent(t, service.TypeDeactivated, first)
		require.NoError(t, f.Repos.UpdatePatient(ctx, first, event(p.ID, patient.ActionDelete), written))

		stale := p
		stale.Active, stale.Version = false, 2
		assert.ErrorIs(t, f.Repos.UpdatePatient(ctx, stale, event(p.ID, patient.ActionDelete), statusEvent(t, service.TypeDeactivated, stale)),
			patient.ErrStaleVersion)
		missing := newPatient("Grace", "Hopper", "")
		missing.Version = 2
		assert.ErrorIs(t, f.Repos.UpdatePatient(ctx, missing, event(missing.ID, patient.ActionDelete), statusEvent(t, service.TypeDeactivated, missing)),
			patient.ErrNotFound)
		assert.Len(t, f.Outbox(t, p.ID), 1, "a stale or missing record leaves no event")

		// The outbox refuses the event (its id is taken): the change and
		// its audit event go back with it.
		trail := auditCount(t, f.Repos, p.ID)
		again := first
		again.Active, again.Version = true, 3
		dup := statusEvent(t, service.TypeReactivated, again)
		dup.ID = written.ID
		assert.Error(t, f.Repos.UpdatePatient(ctx, again, event(p.ID, patient.ActionUpdate), dup))
		got, err := f.Repos.PatientByID(ctx, p.ID)
		require.NoError(t, err)
		assert.False(t, got.Active, "an event not stored leaves the record as it was")
		assert.Equal(t, int64(2), got.Version)
		assert.Equal(t, trail, auditCount(t, f.Repos, p.ID), "nor its audit event")
		assert.Len(t, f.Outbox(t, p.ID), 1)
	})

	t.Run("the service writes one event per status change, ids only", func(t *testing.T) {
		f := newFixture(t)
		svc := service.New(service.Deps{Patients: f.Repos, History: f.Repos, Audit: f.Repos, Recorder: direct{f.Repos},
			Clock: clocktest.New(t0), Care: EveryDoctor{}})
		adminID := ids.New()
		admin := authn.Principal{UserID: adminID, Roles: []string{authn.RoleAdmin}}
		owner := authn.Principal{UserID: ids.New(), Roles: []string{authn.RolePatient}}
		p, err := svc.CreatePatient(ctx, owner, service.NewPatient{Profile: newPatient("Ada", "Lovelace", "").Profile})
		require.NoError(t, err)
		assert.Empty(t, f.Outbox(t, p.ID), "a new record is no status change")

		prof := p.Profile
		prof.Phone = "+4915100000000"
		p, err = svc.UpdatePatient(ctx, owner, p.ID, p.Version, service.PatientUpdate{NewPatient: service.NewPatient{Profile: prof}})
		require.NoError(t, err)
		assert.Empty(t, f.Outbox(t, p.ID), "nor is a profile's change")

		require.NoError(t, svc.DeactivatePatient(ctx, admin, p.ID, 0))
		require.NoError(t, svc.DeactivatePatient(ctx, admin, p.ID, 0), "a repeated DELETE changes nothing but announces again")
		active := true
		cur, err := svc.GetPatient(ctx, admin, p.ID)
		require.NoError(t, err)
		_, err = svc.UpdatePatient(ctx, admin, p.ID, cur.Version, service.PatientUpdate{NewPatient: service.NewPatient{Profile: cur.Profile, Active: &active}})
		require.NoError(t, err)
		inactive := false
		_, err = svc.UpdatePatient(ctx, admin, p.ID, cur.Version+1, service.PatientUpdate{NewPatient: service.NewPatient{Profile: cur.Profile, Active: &inactive}})
		require.NoError(t, err)

		evs := f.Outbox(t, p.ID)
		require.Len(t, evs, 4, "the repeated DELETE announced the deactivation again, at the same version")
		want := []struct {
			typ     string
			version int64
		}{{service.TypeDeactivated, 3}, {service.TypeDeactivated, 3}, {service.TypeReactivated, 4}, {service.TypeDeactivated, 5}}
		dir := schematest.Dir(t)
		for i, ev := range evs {
			assert.NoError(t, schematest.Check(dir, ev), "event %d follows its schema", i)
			assert.Equal(t, want[i].typ, ev.Type, "event %d", i)
			assert.Equal(t, p.ID, ev.Subject)
			var d service.StatusChangedData
			require.NoError(t, ev.Decode(&d))
			assert.Equal(t, service.StatusChangedData{PatientID: p.ID, Version: want[i].version, ChangedBy: adminID}, d, "event %d", i)
		}
	})

	t.Run("a record deactivated before the outbox is announced by a repeated DELETE", func(t *testing.T) {
		f := newFixture(t)
		clk := clocktest.New(t0)
		svc := service.New(service.Deps{Patients: f.Repos, History: f.Repos, Audit: f.Repos, Recorder: direct{f.Repos},
			Clock: clk, Care: EveryDoctor{}})
		admin := authn.Principal{UserID: ids.New(), Roles: []string{authn.RoleAdmin}}
		p, err := svc.CreatePatient(ctx, admin, service.NewPatient{Profile: newPatient("Ada", "Lovelace", "").Profile})
		require.NoError(t, err)
		// What a DELETE of a release without the outbox left: the record
		// inactive, no event.
		old := p
		old.Active, old.Version, old.UpdatedAt = false, p.Version+1, t0
		require.NoError(t, f.Repos.UpdatePatient(ctx, old, event(p.ID, patient.ActionDelete)))
		require.Empty(t, f.Outbox(t, p.ID))
		trail := auditCount(t, f.Repos, p.ID)

		clk.Advance(time.Hour)
		require.NoError(t, svc.DeactivatePatient(ctx, admin, p.ID, old.Version), "answered as before, If-Match the current version")
		evs := f.Outbox(t, p.ID)
		require.Len(t, evs, 1, "the deactivation reaches the consumers")
		assert.Equal(t, service.TypeDeactivated, evs[0].Type)
		assert.NoError(t, schematest.Check(schematest.Dir(t), evs[0]))
		var d service.StatusChangedData
		require.NoError(t, evs[0].Decode(&d))
		assert.Equal(t, service.StatusChangedData{PatientID: p.ID, Version: old.Version, ChangedBy: admin.UserID}, d,
			"at the record's version, by the administrator who repeated the DELETE")
		assert.WithinDuration(t, t0.Add(time.Hour), evs[0].Time, time.Millisecond, "announced now")
		got, err := f.Repos.PatientByID(ctx, p.ID)
		require.NoError(t, err)
		assert.Equal(t, old.Version, got.Version, "the record stays as it is")
		assert.False(t, got.Active)

		// On the trail once, as the administrator's delete of the record.
		entries, err := f.Repos.ListAudit(ctx, patient.AuditQuery{PatientID: p.ID, Limit: 100})
		require.NoError(t, err)
		require.Len(t, entries.Items, trail+1)
		last := entries.Items[0]
		assert.Equal(t, patient.ActionDelete, last.Action)
		assert.Equal(t, admin.UserID, last.UserID)
		assert.Equal(t, patient.OutcomeAllowed, last.Outcome)
		assert.Equal(t, p.ID, last.PatientID)
	})
}
