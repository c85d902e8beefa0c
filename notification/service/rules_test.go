package service_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
)

// kinds lists the kinds of every delivery, whatever its status.
func (f *fixture) kinds(t *testing.T) []notice.Kind {
	t.Helper()
	d, err := f.svc.Deliveries(f.ctx, authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}, notice.DeliveryQuery{Limit: 100})
	require.NoError(t, err)
	var out []notice.Kind
	for _, x := range d.Items {
		out = append(out, x.Kind)
	}
	return out
}

// A user who turned the in-app inbox off gets their mail and no entry.
func TestInAppOffLeavesTheInboxEmpty(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	a.doctor = ""
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	me := authn.Principal{UserID: a.patient, Roles: []string{"PATIENT"}}
	_, err := f.svc.UpdatePreferences(f.ctx, me, 1, service.PreferencesInput{Email: true, InApp: false, Reminders: true})
	require.NoError(t, err)

	f.book(t, a)
	assert.Empty(t, f.inbox(t, a.patient).Items)
	assert.Len(t, f.deliver(t), 1, "the mail goes")
}

// A mail held until the user registers follows the channels they have
// chosen by then: with email off nothing goes, and with reminders off a
// held reminder is dropped while the confirmation goes.
func TestHeldMailFollowsThePreferencesAtRegistration(t *testing.T) {
	t.Run("email off", func(t *testing.T) {
		f := newFixture(t)
		a := newAppt(t0.Add(72 * time.Hour))
		a.doctor = ""
		f.book(t, a)
		me := authn.Principal{UserID: a.patient, Roles: []string{"PATIENT"}}
		_, err := f.svc.UpdatePreferences(f.ctx, me, 1, service.PreferencesInput{Email: false, InApp: true, Reminders: true})
		require.NoError(t, err)

		f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
		assert.Empty(t, f.deliver(t))
		assert.Empty(t, f.kinds(t), "nothing queued")
	})
	t.Run("reminders off", func(t *testing.T) {
		f := newFixture(t)
		a := newAppt(t0.Add(72 * time.Hour))
		a.doctor = ""
		f.book(t, a)
		f.clock.Set(a.start.Add(-24 * time.Hour))
		n, err := f.svc.FireDueReminders(f.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n, "the reminder fires, its mail held")
		me := authn.Principal{UserID: a.patient, Roles: []string{"PATIENT"}}
		_, err = f.svc.UpdatePreferences(f.ctx, me, 1, service.PreferencesInput{Email: true, InApp: true, Reminders: false})
		require.NoError(t, err)

		f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
		mails := f.deliver(t)
		require.Len(t, mails, 1)
		assert.Equal(t, "Your appointment with Dr. Lena Weber is booked", mails[0].Subject)
		assert.Equal(t, []notice.Kind{notice.AppointmentBooked}, f.kinds(t))
	})
}

// A mail that failed for a temporary reason waits RetryBase after its first
// attempt, then twice as long after each one more.
func TestRetriesWaitTheBaseThenTwiceAsLong(t *testing.T) {
	f := newFixture(t)
	admin := authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}
	a := newAppt(t0.Add(72 * time.Hour))
	a.doctor = ""
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.smtp.Down()
	f.book(t, a)

	base := service.DefaultConfig().RetryBase
	for attempt, wait := range []time.Duration{base, 2 * base, 4 * base} {
		attemptAt := f.clock.Now()
		assert.Empty(t, f.deliver(t))
		queued, err := f.svc.Deliveries(f.ctx, admin, notice.DeliveryQuery{Status: notice.Queued, Limit: 10})
		require.NoError(t, err)
		require.Len(t, queued.Items, 1)
		assert.Equal(t, attempt+1, queued.Items[0].Attempts)
		assert.Equal(t, wait, queued.Items[0].NextAttemptAt.Sub(attemptAt), "after attempt %d", attempt+1)
		f.clock.Set(queued.Items[0].NextAttemptAt)
	}
}

// Only the first version of the event schemas is applied: an event of
// another is malformed, dead-lettered rather than misread.
func TestEventOfAnotherSchemaVersionIsMalformed(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	ev, err := events.New("appointment.booked", 2, a.id, a.data(nil), f.clock.Now())
	require.NoError(t, err)
	assert.ErrorIs(t, f.svc.HandleEvent(f.ctx, ev), service.ErrMalformed)
	assert.Empty(t, f.inbox(t, a.patient).Items)
	assert.Empty(t, f.deliver(t))
}

// The read-only fields of preferences are compared only under a current
// If-Match: a client sending back a stale read whole is told it is stale
// (and reads again), not that its version field is wrong. The defaults were
// never written, so any updatedAt sent with them, the zero instant too, is
// a change.
func TestPreferencesCheckTheVersionBeforeTheFields(t *testing.T) {
	f := newFixture(t)
	user := ids.New()
	me := authn.Principal{UserID: user, Roles: []string{"PATIENT"}}
	var zero time.Time
	_, err := f.svc.UpdatePreferences(f.ctx, me, 1, service.PreferencesInput{Email: true, UpdatedAt: &zero})
	var fe domainerr.FieldErrors
	require.ErrorAs(t, err, &fe)
	require.Len(t, fe, 1)
	assert.Equal(t, "updatedAt", fe[0].Field)

	read, err := f.svc.MyPreferences(f.ctx, me)
	require.NoError(t, err)
	_, err = f.svc.UpdatePreferences(f.ctx, me, read.Version, service.PreferencesInput{Email: false, InApp: true, Reminders: true})
	require.NoError(t, err)
	_, err = f.svc.UpdatePreferences(f.ctx, me, read.Version, service.PreferencesInput{
		Email: true, InApp: true, Reminders: false, UserID: &user, Version: &read.Version})
	assert.ErrorIs(t, err, notice.ErrPreferencesChanged)
	assert.NotErrorAs(t, err, &fe)
}

// A reset event that gives no expiry is held to DefaultExpiry from the
// event's time: a link it opens is not mailed after that.
func TestResetLinkWithoutExpiryLivesTheDefaultExpiry(t *testing.T) {
	f := newFixture(t)
	ev := f.resetHeldByAnOutage(t, nil)
	f.clock.Set(ev.Time.Add(service.DefaultConfig().DefaultExpiry))
	f.assertResetNotSentAsExpired(t)
}

// An appointment booked exactly the reminder lead before its start has its
// confirmation for a reminder: none fires on top of it.
func TestBookingExactlyTheLeadAheadFiresNoReminder(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(service.DefaultConfig().ReminderLead))
	a.doctor = ""
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, []notice.Kind{notice.AppointmentBooked}, f.kinds(t))
}

// Every caller reads their own inbox, an administrator too: the role gives
// no other view of it.
func TestAnAdministratorsInboxIsTheirOwn(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.book(t, a)
	admin := authn.Principal{UserID: a.doctor, Roles: []string{"ADMIN", "DOCTOR"}}
	in, err := f.svc.MyNotifications(f.ctx, admin, notice.InboxQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, in.Items, 1)
	assert.Equal(t, a.doctor, in.Items[0].UserID)
	assert.Equal(t, 1, in.Unread)

	other := authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}
	in, err = f.svc.MyNotifications(f.ctx, other, notice.InboxQuery{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, in.Items, "none of the patient's or the doctor's")
}
