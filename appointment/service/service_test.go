package service_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/service/repotest"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/outbox/outboxtest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// anyGrid is a doctor directory whose grid holds every span.
type anyGrid struct{ doctor service.Doctor }

func (g anyGrid) CheckSlot(context.Context, string, time.Time, time.Time) (service.SlotCheck, error) {
	return service.SlotCheck{Doctor: g.doctor, OnGrid: true}, nil
}
func (g anyGrid) Me(context.Context) (service.Doctor, error)          { return g.doctor, nil }
func (g anyGrid) Get(context.Context, string) (service.Doctor, error) { return g.doctor, nil }

type onePatient struct{ patient service.Patient }

func (p onePatient) Me(context.Context) (service.Patient, error)          { return p.patient, nil }
func (p onePatient) Get(context.Context, string) (service.Patient, error) { return p.patient, nil }

// TestNoAppointmentOutlastsADay: the stores' overlap searches look back a
// day from a start, so a longer span is refused whatever the doctor's grid
// says, on booking and on rescheduling.
func TestNoAppointmentOutlastsADay(t *testing.T) {
	ctx := context.Background()
	userID := ids.New()
	doc := service.Doctor{ID: ids.New(), UserID: ids.New(), Name: "Ada Lovelace", TimeZone: "UTC", Active: true}
	svc := service.New(sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations())), anyGrid{doc},
		onePatient{service.Patient{ID: ids.New(), UserID: userID, Active: true}},
		clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)), ids.New, service.Options{})
	pat := authn.Principal{UserID: userID, Roles: []string{authn.RolePatient}}

	_, err := svc.Book(ctx, pat, service.BookInput{DoctorID: doc.ID, Start: "2030-01-10T09:00:00Z", End: "2030-01-11T09:00:01Z"})
	var fe domainerr.FieldErrors
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, "end", fe[0].Field)
	assert.Len(t, fe, 1)

	res, err := svc.Book(ctx, pat, service.BookInput{DoctorID: doc.ID, Start: "2030-01-10T09:00:00Z", End: "2030-01-11T09:00:00Z"})
	require.NoError(t, err, "a day is the longest")
	_, err = svc.Reschedule(ctx, pat, res.Appointment.ID, 0, service.RescheduleInput{Start: "2030-01-12T09:00:00Z", End: "2030-01-14T09:00:00Z"})
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, domainerr.FieldErrors{{Field: "end", Message: "must be at most 24 hours after start"}}, fe)
}

// TestPassedOverEventsAreLoggedWithIdsOnly: an encounter that does not
// match its appointment is acknowledged with a warning naming the event
// and the appointment, and no patient or doctor.
func TestPassedOverEventsAreLoggedWithIdsOnly(t *testing.T) {
	ctx := context.Background()
	store := sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations()))
	var buf bytes.Buffer
	svc := service.New(store, nil, nil, clocktest.New(time.Date(2031, 3, 4, 0, 0, 0, 0, time.UTC)), ids.New,
		service.Options{Logger: log.NewLogfmtLogger(&buf)})
	a := repotest.New(ids.New(), 0, 30)
	require.NoError(t, store.Book(ctx, a, service.BookOptions{}))
	other := a
	other.PatientID = ids.New()
	ev := repotest.Signed(t, other, a.End)
	require.NoError(t, svc.HandleEvent(ctx, ev))
	line := buf.String()
	assert.Contains(t, line, "level=warn")
	assert.Contains(t, line, "does not match")
	assert.Contains(t, line, "eventId="+ev.ID)
	assert.Contains(t, line, "appointmentId="+a.ID)
	for _, secret := range []string{a.PatientID, other.PatientID, a.DoctorUserID, a.Reason} {
		assert.NotContains(t, line, secret)
	}
}

// TestAgendaOnADayWhoseMidnightIsSkipped: in America/Havana the clocks jump
// from 00:00 to 01:00 on 2030-03-10. A doctor's agenda of 2030-03-09 holds
// the 23:00-23:30 visit of that evening, and the agenda of 2030-03-10 does
// not.
func TestAgendaOnADayWhoseMidnightIsSkipped(t *testing.T) {
	ctx := context.Background()
	havana, err := time.LoadLocation("America/Havana")
	require.NoError(t, err)
	docUser, patUser := ids.New(), ids.New()
	doc := service.Doctor{ID: ids.New(), UserID: docUser, Name: "Ada Lovelace", TimeZone: "America/Havana", Active: true}
	svc := service.New(sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations())), anyGrid{doc},
		onePatient{service.Patient{ID: ids.New(), UserID: patUser, Active: true}},
		clocktest.New(time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)), ids.New, service.Options{})
	pat := authn.Principal{UserID: patUser, Roles: []string{authn.RolePatient}}
	dr := authn.Principal{UserID: docUser, Roles: []string{authn.RoleDoctor}}

	start := time.Date(2030, 3, 9, 23, 0, 0, 0, havana) // Saturday evening, local
	_, err = svc.Book(ctx, pat, service.BookInput{DoctorID: doc.ID,
		Start: start.UTC().Format(time.RFC3339), End: start.Add(30 * time.Minute).UTC().Format(time.RFC3339)})
	require.NoError(t, err)

	sat, err := svc.List(ctx, dr, service.ListInput{Date: "2030-03-09"})
	require.NoError(t, err)
	sun, err := svc.List(ctx, dr, service.ListInput{Date: "2030-03-10"})
	require.NoError(t, err)
	assert.Len(t, sat.Items, 1, "the agenda of 03-09 holds the visit at 23:00 local")
	assert.Empty(t, sun.Items, "the agenda of 03-10 does not")
}

// An agenda by date of a doctor whose time zone this host cannot load is a
// 409 to correct the profile, not a 500.
func TestAgendaOfADoctorWithAnUnknownZoneIsAConflict(t *testing.T) {
	docUser := ids.New()
	doc := service.Doctor{ID: ids.New(), UserID: docUser, Name: "Ada Lovelace", TimeZone: "Nowhere/Atlantis", Active: true}
	svc := service.New(sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations())), anyGrid{doc}, onePatient{},
		clocktest.New(time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)), ids.New, service.Options{})
	_, err := svc.List(context.Background(), authn.Principal{UserID: docUser, Roles: []string{authn.RoleDoctor}}, service.ListInput{Date: "2030-03-09"})
	assert.True(t, errors.Is(err, domainerr.Conflict), "%v", err)
}

// A wait for a day of a doctor whose time zone this host cannot load is the
// same 409 as their agenda: the day has no bounds here, and UTC's would be
// another day than the one the patient sees.
func TestAWaitForADoctorWithAnUnknownZoneIsAConflict(t *testing.T) {
	patUser := ids.New()
	doc := service.Doctor{ID: ids.New(), UserID: ids.New(), Name: "Ada Lovelace", TimeZone: "Nowhere/Atlantis", Active: true}
	db := sqltest.SQLite(t, sqlstore.Migrations())
	svc := service.New(sqlstore.New(db), anyGrid{doc}, onePatient{service.Patient{ID: ids.New(), UserID: patUser, Active: true}},
		clocktest.New(time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)), ids.New, service.Options{})
	pat := authn.Principal{UserID: patUser, Roles: []string{authn.RolePatient}}
	_, err := svc.JoinWaitlist(context.Background(), pat, service.WaitlistInput{DoctorID: doc.ID, Date: "2030-03-09"})
	assert.True(t, errors.Is(err, domainerr.Conflict), "%v", err)
	mine, err := svc.MyWaitlist(context.Background(), pat)
	require.NoError(t, err)
	assert.Empty(t, mine, "no wait was written")
}

// TestPassedWaitsDoNotFillTheWaitlist: a wait for a day that has passed is
// no wait any more: it is not listed and does not count against the 20
// entries a patient may hold.
func TestPassedWaitsDoNotFillTheWaitlist(t *testing.T) {
	ctx := context.Background()
	patUser := ids.New()
	doc := service.Doctor{ID: ids.New(), UserID: ids.New(), Name: "Ada Lovelace", TimeZone: "UTC", Active: true}
	clk := clocktest.New(time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC))
	svc := service.New(sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations())), anyGrid{doc},
		onePatient{service.Patient{ID: ids.New(), UserID: patUser, Active: true}}, clk, ids.New, service.Options{})
	pat := authn.Principal{UserID: patUser, Roles: []string{authn.RolePatient}}
	for d := 2; d < 22; d++ {
		_, err := svc.JoinWaitlist(ctx, pat, service.WaitlistInput{DoctorID: doc.ID, Date: time.Date(2030, 3, d, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)})
		require.NoError(t, err)
	}
	clk.Set(time.Date(2030, 4, 1, 0, 0, 0, 0, time.UTC)) // every one of those days is over
	mine, err := svc.MyWaitlist(ctx, pat)
	require.NoError(t, err)
	assert.Empty(t, mine, "a month later")
	_, err = svc.JoinWaitlist(ctx, pat, service.WaitlistInput{DoctorID: doc.ID, Date: "2030-04-05"})
	require.NoError(t, err, "a patient whose every wait has passed may wait again")
}

// TestAWaitStaysUntilItsDayHasEndedEverywhere: a wait's day is the doctor's,
// so it keeps its place until that day has ended in every time zone, the
// day after the next in UTC.
func TestAWaitStaysUntilItsDayHasEndedEverywhere(t *testing.T) {
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2030, 3, 10, 0, 0, 0, 0, time.UTC), "2030-03-09"},
		{time.Date(2030, 3, 10, 23, 59, 59, 0, time.UTC), "2030-03-09"},
		{time.Date(2030, 3, 10, 13, 0, 0, 0, time.FixedZone("", -12*3600)), "2030-03-10"}, // 01:00 UTC the day after
		{time.Date(2030, 3, 10, 9, 0, 0, 0, time.FixedZone("", 14*3600)), "2030-03-08"},   // 19:00 UTC the day before
	} {
		assert.Equal(t, c.want, service.WaitsPassedBefore(c.now).String(), c.now.String())
	}
}

// patientsByUser is a patient directory answering for the caller in the
// context (as the real one does with their token) and by id; a patient's
// record may be deactivated meanwhile.
type patientsByUser struct {
	mu  sync.Mutex
	all map[string]*service.Patient // by user id
	// answered, when set, runs once after Me has answered, as a change
	// landing between the answer and its use.
	answered func()
}

func (p *patientsByUser) Me(ctx context.Context) (service.Patient, error) {
	caller, _ := authn.FromContext(ctx)
	p.mu.Lock()
	pat, ok := p.all[caller.UserID]
	var out service.Patient
	if ok {
		out = *pat
	}
	then := p.answered
	p.answered = nil
	p.mu.Unlock()
	if then != nil {
		then()
	}
	if !ok {
		return service.Patient{}, service.ErrUnknownPatient
	}
	return out, nil
}

func (p *patientsByUser) Get(_ context.Context, id string) (service.Patient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pat := range p.all {
		if pat.ID == id {
			return *pat, nil
		}
	}
	return service.Patient{}, service.ErrUnknownPatient
}

func (p *patientsByUser) deactivate(userID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all[userID].Active = false
}

// set changes the patient's record as the patient service would, to
// version.
func (p *patientsByUser) set(userID string, active bool, version int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all[userID].Active, p.all[userID].Version = active, version
}

// TestADeactivatedPatientIsOfferedNoFreedSlot walks the story through the
// service on every database: two patients wait for a doctor's day, the
// first one's record is deactivated and its event consumed, and the slot
// another patient then frees goes to the second, the first's wait gone
// from the list and its removal on their trail on the service's account.
func TestADeactivatedPatientIsOfferedNoFreedSlot(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		store := sqlstore.New(db)
		doc := service.Doctor{ID: ids.New(), UserID: ids.New(), Name: "Ada Lovelace", TimeZone: "UTC", Active: true}
		dir := &patientsByUser{all: map[string]*service.Patient{}}
		principal := func() authn.Principal {
			p := authn.Principal{UserID: ids.New(), Roles: []string{authn.RolePatient}}
			dir.all[p.UserID] = &service.Patient{ID: ids.New(), UserID: p.UserID, Active: true}
			return p
		}
		first, second, booker := principal(), principal(), principal()
		clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		svc := service.New(store, anyGrid{doc}, dir, clk, ids.New, service.Options{})
		as := func(p authn.Principal) context.Context { return authn.NewContext(ctx, p) }

		wait := service.WaitlistInput{DoctorID: doc.ID, Date: "2030-01-15"}
		firstWait, err := svc.JoinWaitlist(as(first), first, wait)
		require.NoError(t, err)
		clk.Advance(time.Minute)
		_, err = svc.JoinWaitlist(as(second), second, wait)
		require.NoError(t, err)
		booked, err := svc.Book(as(booker), booker, service.BookInput{DoctorID: doc.ID, Start: "2030-01-15T09:00:00Z", End: "2030-01-15T09:30:00Z"})
		require.NoError(t, err)

		// The clinic deactivates the first patient's record; the patient
		// service's event arrives.
		dir.deactivate(first.UserID)
		firstID := dir.all[first.UserID].ID
		deactivated := repotest.PatientStatus(t, firstID, false, 2)
		require.NoError(t, svc.HandleEvent(ctx, deactivated))
		mine, err := svc.MyWaitlist(as(first), first)
		require.NoError(t, err)
		assert.Empty(t, mine, "the deactivated patient waits for nothing")

		_, err = svc.Cancel(as(booker), booker, booked.Appointment.ID, 0, service.CancelInput{})
		require.NoError(t, err)
		var offers []service.SlotFreedData
		for _, ev := range outboxtest.Events(t, db, service.TypeSlotFreed) {
			var d service.SlotFreedData
			require.NoError(t, ev.Decode(&d))
			offers = append(offers, d)
		}
		require.Len(t, offers, 1)
		assert.Equal(t, dir.all[second.UserID].ID, offers[0].OfferedToPatientID, "the next active patient is offered the slot")
		assert.Equal(t, second.UserID, offers[0].OfferedToPatientUserID)
		mine, err = svc.MyWaitlist(as(second), second)
		require.NoError(t, err)
		assert.Empty(t, mine, "the offered wait leaves the list")

		trail, err := store.ListAudit(ctx, appointment.AuditQuery{PatientID: firstID, Limit: 10})
		require.NoError(t, err)
		require.Len(t, trail.Items, 2, "the join, then the removal")
		removal := trail.Items[0]
		assert.Equal(t, appointment.ActionLeave, removal.Action)
		assert.Equal(t, firstWait.ID, removal.ResourceID)
		assert.Equal(t, service.RoleService, removal.Role)
		assert.Empty(t, removal.UserID)
		assert.Equal(t, deactivated.ID, removal.RequestID)

		_, err = svc.JoinWaitlist(as(first), first, service.WaitlistInput{DoctorID: doc.ID, Date: "2030-01-16"})
		var fe domainerr.FieldErrors
		require.ErrorAs(t, err, &fe, "a deactivated patient joins no waitlist")
		assert.Equal(t, "patientId", fe[0].Field)
	})
}

// waitingPatient is the service over db with a patient directory holding
// one active patient at version 1, who is the caller.
func waitingPatient(t *testing.T, db *sqldb.DB) (service.Service, *patientsByUser, authn.Principal, service.Doctor) {
	doc := service.Doctor{ID: ids.New(), UserID: ids.New(), Name: "Ada Lovelace", TimeZone: "UTC", Active: true}
	dir := &patientsByUser{all: map[string]*service.Patient{}}
	p := authn.Principal{UserID: ids.New(), Roles: []string{authn.RolePatient}}
	dir.all[p.UserID] = &service.Patient{ID: ids.New(), UserID: p.UserID, Active: true, Version: 1}
	clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	return service.New(sqlstore.New(db), anyGrid{doc}, dir, clk, ids.New, service.Options{}), dir, p, doc
}

// TestAReactivatedPatientMayWaitAtOnce: the patient service answers a
// reactivated record active at a version above the deactivation recorded
// here, whose patient.reactivated is still on its way; the fresher answer
// holds.
func TestAReactivatedPatientMayWaitAtOnce(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc, dir, p, doc := waitingPatient(t, db)
		as := authn.NewContext(ctx, p)
		patientID := dir.all[p.UserID].ID

		dir.set(p.UserID, false, 2)
		require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, patientID, false, 2)))
		dir.set(p.UserID, true, 3)

		_, err := svc.JoinWaitlist(as, p, service.WaitlistInput{DoctorID: doc.ID, Date: "2030-01-15"})
		require.NoError(t, err, "the patient service says the record is active, at a later version")
		require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, patientID, true, 3)))
		mine, err := svc.MyWaitlist(as, p)
		require.NoError(t, err)
		assert.Len(t, mine, 1, "the reactivation arriving changes nothing")
	})
}

// TestADeactivationAppliedAfterTheAnswerWins: the patient service answers
// the record active, then the record is deactivated and its event applied
// before the wait is stored: the wait is refused.
func TestADeactivationAppliedAfterTheAnswerWins(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc, dir, p, doc := waitingPatient(t, db)
		as := authn.NewContext(ctx, p)
		patientID := dir.all[p.UserID].ID
		dir.answered = func() {
			dir.set(p.UserID, false, 2)
			require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, patientID, false, 2)))
		}

		_, err := svc.JoinWaitlist(as, p, service.WaitlistInput{DoctorID: doc.ID, Date: "2030-01-15"})
		var fe domainerr.FieldErrors
		require.ErrorAs(t, err, &fe)
		assert.Equal(t, "patientId", fe[0].Field)
		mine, err := svc.MyWaitlist(as, p)
		require.NoError(t, err)
		assert.Empty(t, mine)
	})
}

// TestADeactivationAboveThePatientServicesVersionDoesNotBarAPatient: an
// event with a version the patient service never gave (forged by another
// publisher on the broker, or mistaken) records the patient inactive, and
// the genuine changes after it carry lower versions. The patient service,
// asked again at the join, answers a current version below the recorded
// one, which therefore is not its own: the status is put back to the
// patient service's, and its next genuine change applies.
func TestADeactivationAboveThePatientServicesVersionDoesNotBarAPatient(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		svc, dir, p, doc := waitingPatient(t, db)
		as := authn.NewContext(ctx, p)
		patientID := dir.all[p.UserID].ID

		require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, patientID, false, math.MaxInt64)), "forged")
		// The clinic cycles the record: deactivated (v2), then active again
		// (v3); both events are consumed, and change nothing.
		dir.set(p.UserID, false, 2)
		require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, patientID, false, 2)))
		dir.set(p.UserID, true, 3)
		require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, patientID, true, 3)))

		_, err := svc.JoinWaitlist(as, p, service.WaitlistInput{DoctorID: doc.ID, Date: "2030-01-15"})
		require.NoError(t, err, "the record is active, and its latest genuine event says so")

		dir.set(p.UserID, false, 4)
		require.NoError(t, svc.HandleEvent(ctx, repotest.PatientStatus(t, patientID, false, 4)))
		mine, err := svc.MyWaitlist(as, p)
		require.NoError(t, err)
		assert.Empty(t, mine, "a genuine deactivation after the correction applies")
		_, err = svc.JoinWaitlist(as, p, service.WaitlistInput{DoctorID: doc.ID, Date: "2030-01-16"})
		var fe domainerr.FieldErrors
		require.ErrorAs(t, err, &fe, "inactive")
		assert.Equal(t, "patientId", fe[0].Field)
	})
}

// TestACancellingPatientIsNotOfferedTheSlotTheyFreed: a patient who holds a
// slot of a doctor's day and also waits for that day cancels; the slot goes
// to the other patient waiting, and the canceller's wait stays.
func TestACancellingPatientIsNotOfferedTheSlotTheyFreed(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		doc := service.Doctor{ID: ids.New(), UserID: ids.New(), Name: "Ada Lovelace", TimeZone: "UTC", Active: true}
		dir := &patientsByUser{all: map[string]*service.Patient{}}
		principal := func() authn.Principal {
			p := authn.Principal{UserID: ids.New(), Roles: []string{authn.RolePatient}}
			dir.all[p.UserID] = &service.Patient{ID: ids.New(), UserID: p.UserID, Active: true, Version: 1}
			return p
		}
		canceller, other := principal(), principal()
		clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		svc := service.New(sqlstore.New(db), anyGrid{doc}, dir, clk, ids.New, service.Options{})
		as := func(p authn.Principal) context.Context { return authn.NewContext(ctx, p) }

		booked, err := svc.Book(as(canceller), canceller, service.BookInput{DoctorID: doc.ID, Start: "2030-01-15T16:00:00Z", End: "2030-01-15T16:30:00Z"})
		require.NoError(t, err)
		_, err = svc.JoinWaitlist(as(canceller), canceller, service.WaitlistInput{DoctorID: doc.ID, Date: "2030-01-15"})
		require.NoError(t, err)
		clk.Advance(time.Minute)
		_, err = svc.JoinWaitlist(as(other), other, service.WaitlistInput{DoctorID: doc.ID, Date: "2030-01-15"})
		require.NoError(t, err)

		_, err = svc.Cancel(as(canceller), canceller, booked.Appointment.ID, 0, service.CancelInput{})
		require.NoError(t, err)

		assert.Equal(t, []string{other.UserID}, slotsOfferedTo(t, db), "the other patient waiting is offered the slot")
		mine, err := svc.MyWaitlist(as(canceller), canceller)
		require.NoError(t, err)
		assert.Len(t, mine, 1, "the canceller's wait for the day stays")
	})
}
