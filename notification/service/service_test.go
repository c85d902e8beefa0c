package service_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/adapter/email"
	"github.com/medisync/medisync/notification/adapter/email/emailtest"
	"github.com/medisync/medisync/notification/adapter/sqlstore"
	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/notification/templates"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/seal"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// t0 is a Monday morning in UTC.
var t0 = time.Date(2027, 3, 8, 9, 0, 0, 0, time.UTC)

type fixture struct {
	svc   service.Service
	repo  *sqlstore.Store
	smtp  *emailtest.Server
	clock *clocktest.Clock
	key   seal.Key
	ctx   context.Context
	db    *sqldb.DB // what an older instance's SQL leaves, written by hand
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	key, err := seal.NewKey([]byte(strings.Repeat("k", seal.KeySize)))
	require.NoError(t, err)
	srv := emailtest.NewServer(t)
	mailer, err := email.NewSMTP(srv.Config())
	require.NoError(t, err)
	tpl, err := templates.Load()
	require.NoError(t, err)
	db := sqltest.SQLite(t, sqlstore.Migrations())
	repo := sqlstore.New(db)
	clk := clocktest.New(t0)
	cfg := service.DefaultConfig()
	cfg.SealKey = &key
	return &fixture{
		svc:  service.New(service.Deps{Repo: repo, Mailer: mailer, Templates: tpl, Clock: clk, Config: cfg}),
		repo: repo, smtp: srv, clock: clk, key: key, ctx: context.Background(), db: db,
	}
}

func (f *fixture) event(t *testing.T, typ, subject string, data any) events.Event {
	t.Helper()
	ev, err := events.New(typ, 1, subject, data, f.clock.Now())
	require.NoError(t, err)
	return ev
}

func (f *fixture) handle(t *testing.T, ev events.Event) {
	t.Helper()
	require.NoError(t, f.svc.HandleEvent(f.ctx, ev))
}

// register puts a user in the directory.
func (f *fixture) register(t *testing.T, userID, addr, role, lang string) {
	f.handle(t, f.event(t, "auth.user_registered", userID, map[string]string{"userId": userID, "email": addr, "role": role, "language": lang}))
}

// deliver makes passes over the mail queue and returns what reached the server.
func (f *fixture) deliver(t *testing.T) []emailtest.Parsed {
	t.Helper()
	_, err := f.svc.DeliverMail(f.ctx)
	require.NoError(t, err)
	var out []emailtest.Parsed
	for _, m := range f.smtp.Messages() {
		out = append(out, emailtest.Parse(t, m.Raw))
	}
	return out
}

func (f *fixture) inbox(t *testing.T, userID string) service.Inbox {
	t.Helper()
	in, err := f.svc.MyNotifications(f.ctx, authn.Principal{UserID: userID, Roles: []string{"PATIENT"}}, notice.InboxQuery{Limit: 100})
	require.NoError(t, err)
	return in
}

type appt struct {
	id, patient, doctor string
	start               time.Time
	version             int64
}

func (a appt) data(extra map[string]any) map[string]any {
	d := map[string]any{
		"appointmentId": a.id, "patientId": ids.New(), "patientUserId": a.patient, "doctorId": ids.New(), "doctorUserId": a.doctor,
		"doctorName": "Dr. Lena Weber", "timeZone": "Europe/Berlin", "start": a.start, "end": a.start.Add(30 * time.Minute),
		"status": "booked", "version": a.version,
	}
	for k, v := range extra {
		d[k] = v
	}
	return d
}

func (f *fixture) book(t *testing.T, a appt) {
	f.handle(t, f.event(t, "appointment.booked", a.id, a.data(nil)))
}

func newAppt(start time.Time) appt {
	return appt{id: ids.New(), patient: ids.New(), doctor: ids.New(), start: start, version: 1}
}

func TestRedeliveredEventSendsOnce(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	ev := f.event(t, "appointment.booked", a.id, a.data(nil))
	f.handle(t, ev)
	f.handle(t, ev)

	mails := f.deliver(t)
	require.Len(t, mails, 1, "one email for two deliveries of the event")
	assert.Equal(t, "Your appointment with Dr. Lena Weber is booked", mails[0].Subject)
	assert.Contains(t, mails[0].Text, "Thursday, 11 March 2027, 10:00 (UTC+1)", "the time in the doctor's zone")
	assert.Equal(t, 1, f.inbox(t, a.patient).Unread, "one inbox entry")
	assert.Len(t, f.inbox(t, a.doctor).Items, 1, "the doctor is told too")
}

func TestBookingConfirmationIsMultipartAndHoldsNoReason(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	// A producer that wrongly sent a reason: it never reaches the message.
	f.handle(t, f.event(t, "appointment.booked", a.id, a.data(map[string]any{"reason": "chest pain"})))
	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Equal(t, "multipart/alternative", mails[0].MediaType)
	assert.Contains(t, html.UnescapeString(mails[0].HTML), "<strong>Thursday, 11 March 2027, 10:00 (UTC+1)</strong>")
	assert.NotContains(t, mails[0].Text+mails[0].HTML, "chest pain")
}

func TestTemplatesFollowTheUsersLanguage(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "max@example.de", "PATIENT", "de-AT")
	f.register(t, a.doctor, "weber@example.de", "DOCTOR", "xx-unknown")
	f.book(t, a)
	mails := f.deliver(t)
	require.Len(t, mails, 2)
	byTo := map[string]emailtest.Parsed{}
	for _, m := range mails {
		byTo[m.To] = m
	}
	de := byTo["<max@example.de>"]
	assert.Equal(t, "Ihr Termin bei Dr. Lena Weber ist gebucht", de.Subject)
	assert.Contains(t, de.Text, "Donnerstag, 11. März 2027, 10:00 Uhr (UTC+1)")
	assert.Contains(t, de.HTML, `lang="de"`)
	en := byTo["<weber@example.de>"]
	assert.Equal(t, "New appointment on Thursday, 11 March 2027, 10:00 (UTC+1)", en.Subject, "an unknown language falls back to English")
}

func TestReminderFiresOnceWhenDue(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	f.deliver(t)

	f.clock.Set(a.start.Add(-24*time.Hour - time.Minute))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "not due yet")

	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err = f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	n, err = f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a reminder fires once")

	mails := f.deliver(t)
	require.Len(t, mails, 2)
	assert.Equal(t, "Reminder: your appointment with Dr. Lena Weber on Thursday, 11 March 2027, 10:00 (UTC+1)", mails[1].Subject)
}

func TestCancelledAppointmentGetsNoReminder(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	f.deliver(t) // as the mail worker does every few seconds
	a.version = 2
	f.handle(t, f.event(t, "appointment.cancelled", a.id, a.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})))

	f.clock.Set(a.start.Add(-time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	mails := f.deliver(t)
	require.Len(t, mails, 2, "the confirmation and the cancellation, no reminder")
	assert.Equal(t, "Your appointment with Dr. Lena Weber is cancelled", mails[1].Subject)
	assert.Contains(t, mails[1].Text, "at the doctor's request")
	for _, m := range mails {
		assert.NotContains(t, m.Subject, "Reminder")
	}
}

func TestLateBookedEventDoesNotReviveACancelledAppointment(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	cancelled := a
	cancelled.version = 2
	f.handle(t, f.event(t, "appointment.cancelled", a.id, cancelled.data(map[string]any{"status": "cancelled"})))
	f.book(t, a) // version 1 arrives late

	f.clock.Set(a.start.Add(-time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Len(t, f.inbox(t, a.patient).Items, 1, "only the cancellation")
}

// A zone name that is no usable IANA zone ("Local", the host's own zone;
// "Factory", the offset of no place; a file of the host's zoneinfo folder;
// a name the database does not hold) is never the zone times are written
// in, nor does it stop the event: appointments booked before the doctor
// profile's rule carry "Local" in every event, and each must still be told,
// in UTC, which the mail names.
func TestAppointmentEventWithANonIANAZoneIsWrittenInUTC(t *testing.T) {
	f := newFixture(t)
	for _, zone := range []string{"Local", "Factory", "localtime", "posixrules", "Mars/Olympus"} {
		a := newAppt(t0.Add(72 * time.Hour))
		f.register(t, a.patient, zone+"@example.org", "PATIENT", "en")
		f.handle(t, f.event(t, "appointment.booked", a.id, a.data(map[string]any{"timeZone": zone})))
		mails := f.deliver(t)
		require.NotEmpty(t, mails, zone)
		m := mails[len(mails)-1]
		assert.Equal(t, "<"+zone+"@example.org>", m.To, zone)
		assert.Contains(t, m.Text, "on Thursday, 11 March 2027, 09:00 is booked.", zone)
		assert.Contains(t, m.Text, "time zone (UTC)", zone)
	}
}

// An appointment booked before the doctor profile's zone rule carries the
// zone it was booked with ("Local") in all its events, and its reminder
// was stored with it. Its cancellation is applied, not dead-lettered: the
// reminder is withdrawn rather than fire for a cancelled visit, and the
// patient is told.
func TestCancellationOfAnAppointmentWithTheHostsZoneWithdrawsItsReminder(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	// What the booking stored before the zone rule.
	booked := f.event(t, "appointment.booked", a.id, a.data(map[string]any{"timeZone": "Local"}))
	_, err := f.repo.Apply(f.ctx, booked, t0, func(ctx context.Context, tx service.Tx) error {
		return tx.PutReminder(ctx, notice.Reminder{AppointmentID: a.id, PatientUserID: a.patient, DoctorName: "Dr. Lena Weber",
			TimeZone: "Local", Start: a.start, End: a.start.Add(30 * time.Minute), DueAt: a.start.Add(-24 * time.Hour),
			Status: notice.ReminderPending, Version: 1, UpdatedAt: t0})
	})
	require.NoError(t, err)

	a.version = 2
	require.NoError(t, f.svc.HandleEvent(f.ctx, f.event(t, "appointment.cancelled", a.id,
		a.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request", "timeZone": "Local"}))))
	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Equal(t, "Your appointment with Dr. Lena Weber is cancelled", mails[0].Subject)
	assert.Contains(t, mails[0].Text, "time zone (UTC)")

	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "the reminder of a cancelled appointment fired")
}

// A reminder stored with "Local" before the zone rule, still pending, is
// written in UTC when it fires, never in the zone the service's host runs
// in.
func TestReminderStoredWithTheHostsZoneIsWrittenInUTC(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	booked := f.event(t, "appointment.booked", a.id, a.data(map[string]any{"timeZone": "Local"}))
	_, err := f.repo.Apply(f.ctx, booked, t0, func(ctx context.Context, tx service.Tx) error {
		return tx.PutReminder(ctx, notice.Reminder{AppointmentID: a.id, PatientUserID: a.patient, DoctorName: "Dr. Lena Weber",
			TimeZone: "Local", Start: a.start, End: a.start.Add(30 * time.Minute), DueAt: a.start.Add(-24 * time.Hour),
			Status: notice.ReminderPending, Version: 1, UpdatedAt: t0})
	})
	require.NoError(t, err)

	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Contains(t, mails[0].Text, "Thursday, 11 March 2027, 09:00")
	assert.Contains(t, mails[0].Text, "time zone (UTC)")
}

// The schema requires a version of at least 1: an appointment event without
// one (a producer's bug, an event replayed by hand) is malformed, and above
// all does not pass the version check and revive a cancelled appointment.
func TestAppointmentEventWithoutVersionIsMalformed(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	cancelled := a
	cancelled.version = 2
	f.handle(t, f.event(t, "appointment.cancelled", a.id, cancelled.data(map[string]any{"status": "cancelled", "cancellationReason": "clinic"})))

	noVersion := a.data(nil)
	delete(noVersion, "version")
	for name, data := range map[string]map[string]any{
		"no version": noVersion, "version 0": a.data(map[string]any{"version": 0}), "version -1": a.data(map[string]any{"version": -1}),
	} {
		err := f.svc.HandleEvent(f.ctx, f.event(t, "appointment.booked", a.id, data))
		assert.ErrorIs(t, err, service.ErrMalformed, name)
	}

	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a cancelled appointment gets no reminder")
	assert.Len(t, f.inbox(t, a.patient).Items, 2, "the booking and the cancellation")
}

func TestBookingForAPatientWithoutAccountTellsTheDoctor(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	a.patient = "" // the clinic booked for a patient who has no account
	f.book(t, a)
	assert.Len(t, f.inbox(t, a.doctor).Items, 1, "the doctor is told")

	f.clock.Set(a.start.Add(-time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "no one to remind")
	assert.Empty(t, f.inbox(t, "").Items)
}

func TestRescheduleMovesTheReminder(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	f.deliver(t) // as the mail worker does every few seconds
	moved := a
	moved.start, moved.version = a.start.Add(48*time.Hour), 2
	f.handle(t, f.event(t, "appointment.rescheduled", a.id, moved.data(map[string]any{"previousStart": a.start, "previousEnd": a.start.Add(30 * time.Minute)})))
	f.deliver(t)

	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing at the old time")

	f.clock.Set(moved.start.Add(-24 * time.Hour))
	n, err = f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the reminder at the new time")

	mails := f.deliver(t)
	require.Len(t, mails, 3)
	assert.Contains(t, mails[1].Text, "moved from Thursday, 11 March 2027, 10:00 (UTC+1) to Saturday, 13 March 2027, 10:00 (UTC+1)")
	assert.Contains(t, mails[2].Subject, "Saturday, 13 March 2027, 10:00 (UTC+1)")
}

func TestStatusChangeWithdrawsTheReminder(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.book(t, a)
	a.version = 2
	f.handle(t, f.event(t, "appointment.status_changed", a.id, a.data(map[string]any{"status": "entered-in-error", "previousStatus": "booked"})))
	f.clock.Set(a.start.Add(-time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestPreferencesAreHonoured(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	me := authn.Principal{UserID: a.patient, Roles: []string{"PATIENT"}}
	p, err := f.svc.MyPreferences(f.ctx, me)
	require.NoError(t, err)
	assert.Equal(t, notice.DefaultPreferences(a.patient), p)

	_, err = f.svc.UpdatePreferences(f.ctx, me, 0, service.PreferencesInput{})
	assert.ErrorIs(t, err, notice.ErrIfMatchRequired)
	p, err = f.svc.UpdatePreferences(f.ctx, me, 1, service.PreferencesInput{Email: false, InApp: true, Reminders: false})
	require.NoError(t, err)
	assert.Equal(t, int64(2), p.Version)
	_, err = f.svc.UpdatePreferences(f.ctx, me, 1, service.PreferencesInput{Email: true})
	assert.ErrorIs(t, err, notice.ErrPreferencesChanged)

	f.book(t, a)
	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the reminder is taken")
	assert.Empty(t, f.deliver(t), "email is off")
	in := f.inbox(t, a.patient)
	require.Len(t, in.Items, 1, "in-app on, reminders off: the confirmation only")
	assert.Equal(t, notice.AppointmentBooked, in.Items[0].Kind)
}

func TestPasswordResetAlwaysGoesByEmail(t *testing.T) {
	f := newFixture(t)
	user := ids.New()
	f.register(t, user, "ada@example.org", "PATIENT", "de")
	me := authn.Principal{UserID: user, Roles: []string{"PATIENT"}}
	_, err := f.svc.UpdatePreferences(f.ctx, me, 1, service.PreferencesInput{})
	require.NoError(t, err, "every channel off")

	link := "https://medisync.example/reset?token=very-secret"
	ev := f.event(t, "auth.password_reset_requested", user, nil)
	sealed, err := f.key.Seal([]byte(link), []byte(ev.ID))
	require.NoError(t, err)
	ev = f.withData(t, ev, map[string]any{"userId": user, "email": "ada@example.org", "language": "de", "sealedLink": sealed, "expiresAt": t0.Add(time.Hour)})
	f.handle(t, ev)
	f.handle(t, ev)

	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Equal(t, "Ihr MediSync-Passwort zurücksetzen", mails[0].Subject)
	assert.Contains(t, mails[0].Text, link)
	assert.Contains(t, mails[0].HTML, `href="https://medisync.example/reset?token=very-secret"`)
	assert.Empty(t, f.inbox(t, user).Items, "the link never sits in the inbox")

	// Admins see the delivery, never its body.
	d, err := f.svc.Deliveries(f.ctx, authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}, notice.DeliveryQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, d.Items, 1)
	assert.Equal(t, notice.Sent, d.Items[0].Status)
	assert.Equal(t, notice.PasswordReset, d.Items[0].Kind)
}

// The reset mail says in which zone its link expires, as the appointment
// mails do: a reader in Berlin would read a bare "10:00" as local time, an
// hour after the link died.
func TestResetMailNamesTheZoneOfItsExpiry(t *testing.T) {
	f := newFixture(t)
	for _, lang := range []string{"en", "de"} {
		user := ids.New()
		ev := f.event(t, "auth.password_reset_requested", user, nil)
		sealed, err := f.key.Seal([]byte("https://medisync.example/reset?token=t"), []byte(ev.ID))
		require.NoError(t, err)
		f.handle(t, f.withData(t, ev, map[string]any{"userId": user, "email": lang + "@example.org", "language": lang, "sealedLink": sealed, "expiresAt": t0.Add(time.Hour)}))
	}
	mails := f.deliver(t)
	require.Len(t, mails, 2)
	for _, m := range mails {
		want := "Monday, 8 March 2027, 10:00 UTC"
		if strings.Contains(m.To, "de@") {
			want = "Montag, 8. März 2027, 10:00 Uhr UTC"
		}
		assert.Contains(t, strings.Join(strings.Fields(m.Text), " "), want, m.To)
		assert.Contains(t, m.HTML, want, m.To)
	}
}

// withData replaces ev's data, keeping its id (the sealed link is bound to it).
func (f *fixture) withData(t *testing.T, ev events.Event, data any) events.Event {
	t.Helper()
	other := f.event(t, ev.Type, ev.Subject, data)
	ev.Data = other.Data
	return ev
}

func TestResetEventsThatCannotBeOpenedAreMalformed(t *testing.T) {
	f := newFixture(t)
	user := ids.New()
	ev := f.event(t, "auth.password_reset_requested", user, nil)
	other, err := f.key.Seal([]byte("https://x"), []byte("another-event"))
	require.NoError(t, err)
	ev = f.withData(t, ev, map[string]any{"userId": user, "email": "ada@example.org", "sealedLink": other})
	assert.ErrorIs(t, f.svc.HandleEvent(f.ctx, ev), service.ErrMalformed, "a link sealed for another event")

	bad := f.event(t, "appointment.booked", "x", map[string]any{"appointmentId": "x"})
	assert.ErrorIs(t, f.svc.HandleEvent(f.ctx, bad), service.ErrMalformed)
	v2, err := events.New("auth.user_registered", 2, user, map[string]string{"userId": user}, t0)
	require.NoError(t, err)
	assert.ErrorIs(t, f.svc.HandleEvent(f.ctx, v2), service.ErrMalformed)
	unknown := f.event(t, "records.encounter_signed", "e", map[string]string{})
	assert.NoError(t, f.svc.HandleEvent(f.ctx, unknown), "a type the service does not use is passed over")
}

func TestExpiredResetLinkIsNotSent(t *testing.T) {
	f := newFixture(t)
	f.resetHeldByAnOutage(t, map[string]any{"expiresAt": t0.Add(time.Hour)})
	f.clock.Advance(2 * time.Hour)
	f.assertResetNotSentAsExpired(t)
}

// resetHeldByAnOutage handles a reset request for a new user, with data
// added to the event's, tries to send its mail while the SMTP server is
// down, and brings the server back; it returns the event.
func (f *fixture) resetHeldByAnOutage(t *testing.T, data map[string]any) events.Event {
	t.Helper()
	f.smtp.Down()
	user := ids.New()
	ev := f.event(t, "auth.password_reset_requested", user, nil)
	sealed, err := f.key.Seal([]byte("https://x/reset"), []byte(ev.ID))
	require.NoError(t, err)
	all := map[string]any{"userId": user, "email": "ada@example.org", "sealedLink": sealed}
	for k, v := range data {
		all[k] = v
	}
	f.handle(t, f.withData(t, ev, all))
	f.deliver(t)
	f.smtp.Up()
	return ev
}

// assertResetNotSentAsExpired checks that the held reset mail is not sent
// and is the one failed delivery, as expired.
func (f *fixture) assertResetNotSentAsExpired(t *testing.T) {
	t.Helper()
	assert.Empty(t, f.deliver(t))
	d, err := f.svc.Deliveries(f.ctx, authn.Principal{Roles: []string{"ADMIN"}}, notice.DeliveryQuery{Status: notice.Failed, Limit: 10})
	require.NoError(t, err)
	require.Len(t, d.Items, 1)
	assert.Contains(t, d.Items[0].LastError, "expired")
}

func TestSMTPOutageQueuesMailUntilTheServerReturns(t *testing.T) {
	f := newFixture(t)
	admin := authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}
	f.smtp.Down()
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.register(t, a.doctor, "weber@example.org", "DOCTOR", "en")
	f.book(t, a)

	n, err := f.svc.DeliverMail(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "both attempted")
	queued, err := f.svc.Deliveries(f.ctx, admin, notice.DeliveryQuery{Status: notice.Queued, Limit: 10})
	require.NoError(t, err)
	require.Len(t, queued.Items, 2, "both wait for the server")
	assert.Equal(t, 1, queued.Items[0].Attempts)
	assert.NotEmpty(t, queued.Items[0].LastError)

	f.smtp.Up()
	n, err = f.svc.DeliverMail(f.ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "the next attempt waits for its backoff")

	f.clock.Advance(time.Minute)
	f.deliver(t)
	f.clock.Advance(time.Hour)
	mails := f.deliver(t)
	assert.Len(t, mails, 2, "each mail exactly once")
	sent, err := f.svc.Deliveries(f.ctx, admin, notice.DeliveryQuery{Status: notice.Sent, Limit: 10})
	require.NoError(t, err)
	require.Len(t, sent.Items, 2)
	assert.Equal(t, 2, sent.Items[0].Attempts)
}

func TestAppointmentMailIsNotSentOnceTheAppointmentBegan(t *testing.T) {
	f := newFixture(t)
	admin := authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}
	f.smtp.Down()
	a := newAppt(t0.Add(3 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	f.deliver(t)

	f.clock.Set(a.start.Add(time.Minute))
	f.smtp.Up()
	assert.Empty(t, f.deliver(t), "the confirmation comes too late")
	failed, err := f.svc.Deliveries(f.ctx, admin, notice.DeliveryQuery{Status: notice.Failed, Limit: 10})
	require.NoError(t, err)
	require.Len(t, failed.Items, 1)
	assert.Contains(t, failed.Items[0].LastError, "expired")
}

func TestRejectedMailFailsWithItsReasonAndRetriesEnd(t *testing.T) {
	f := newFixture(t)
	admin := authn.Principal{Roles: []string{"ADMIN"}}
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.smtp.Reject(true)
	f.book(t, a)
	f.deliver(t)
	failed, err := f.svc.Deliveries(f.ctx, admin, notice.DeliveryQuery{Status: notice.Failed, Limit: 10})
	require.NoError(t, err)
	require.Len(t, failed.Items, 1, "a 550 is not retried")
	assert.Contains(t, failed.Items[0].LastError, "550")

	f.smtp.Reject(false)
	f.smtp.Down()
	b := newAppt(t0.Add(96 * time.Hour))
	b.patient = a.patient
	f.book(t, b)
	queuedAt := f.clock.Now()
	for {
		f.deliver(t)
		queued, err := f.svc.Deliveries(f.ctx, admin, notice.DeliveryQuery{Status: notice.Queued, Limit: 10})
		require.NoError(t, err)
		if len(queued.Items) == 0 {
			break
		}
		f.clock.Set(queued.Items[0].NextAttemptAt)
	}
	failed, err = f.svc.Deliveries(f.ctx, admin, notice.DeliveryQuery{Status: notice.Failed, Limit: 10})
	require.NoError(t, err)
	require.Len(t, failed.Items, 2, "given up after the last attempt")
	assert.Equal(t, service.DefaultConfig().MaxAttempts, failed.Items[0].Attempts)
	assert.Greater(t, f.clock.Now().Sub(queuedAt), 90*time.Hour, "an outage of a few days is waited out")
}

func TestInboxReadAndAccess(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.book(t, a)
	b := newAppt(t0.Add(96 * time.Hour))
	b.patient = a.patient
	f.book(t, b)
	me := authn.Principal{UserID: a.patient, Roles: []string{"PATIENT"}}
	in := f.inbox(t, a.patient)
	require.Len(t, in.Items, 2)
	assert.Equal(t, 2, in.Unread)
	assert.True(t, in.Items[0].CreatedAt.Equal(in.Items[1].CreatedAt) || in.Items[0].CreatedAt.After(in.Items[1].CreatedAt), "newest first")

	first, err := f.svc.MyNotifications(f.ctx, me, notice.InboxQuery{Limit: 1})
	require.NoError(t, err)
	require.Len(t, first.Items, 1)
	require.NotEmpty(t, first.NextCursor)
	second, err := f.svc.MyNotifications(f.ctx, me, notice.InboxQuery{Limit: 1, Cursor: first.NextCursor})
	require.NoError(t, err)
	require.Len(t, second.Items, 1)
	assert.NotEqual(t, first.Items[0].ID, second.Items[0].ID)

	other := authn.Principal{UserID: a.doctor, Roles: []string{"DOCTOR"}}
	_, err = f.svc.MarkRead(f.ctx, other, in.Items[0].ID)
	assert.ErrorIs(t, err, notice.ErrNotificationNotFound, "another user's notification")

	n, err := f.svc.MarkRead(f.ctx, me, in.Items[0].ID)
	require.NoError(t, err)
	assert.True(t, n.Read())
	assert.Equal(t, 1, f.inbox(t, a.patient).Unread)
	count, err := f.svc.MarkAllRead(f.ctx, me)
	require.NoError(t, err)
	assert.Equal(t, 1, count)
	assert.Zero(t, f.inbox(t, a.patient).Unread)

	_, err = f.svc.Deliveries(f.ctx, me, notice.DeliveryQuery{Limit: 10})
	assert.ErrorIs(t, err, notice.ErrAdminOnly)
	_, err = f.svc.MyNotifications(f.ctx, me, notice.InboxQuery{Limit: 10, Cursor: "garbage!"})
	var fe domainerr.FieldErrors
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, page.ErrCursor, fe)
}

// slowMailer is a mail server whose every message takes step on the clock;
// during the second message, another instance works the queue.
type slowMailer struct {
	clock  *clocktest.Clock
	step   time.Duration
	sent   map[string]int
	during func()
}

func (m *slowMailer) Send(_ context.Context, mail service.Mail) error {
	m.sent[mail.ID]++
	m.clock.Advance(m.step)
	if len(m.sent) == 2 && m.during != nil {
		during := m.during
		m.during = nil
		during()
	}
	return nil
}

// A worker whose batch outlasts the batch's lease must neither send a mail
// another instance has taken meanwhile nor have the one it is sending taken
// from it: each mail goes out once.
func TestSlowBatchDoesNotSendTwice(t *testing.T) {
	f := newFixture(t)
	tpl, err := templates.Load()
	require.NoError(t, err)
	cfg := service.DefaultConfig()
	cfg.Lease = 2 * time.Minute
	mailer := &slowMailer{clock: f.clock, step: 90 * time.Second, sent: map[string]int{}}
	a := service.New(service.Deps{Repo: f.repo, Mailer: mailer, Templates: tpl, Clock: f.clock, Config: cfg})
	b := service.New(service.Deps{Repo: f.repo, Mailer: mailer, Templates: tpl, Clock: f.clock, Config: cfg})
	for range 3 {
		ap := newAppt(t0.Add(72 * time.Hour))
		f.register(t, ap.patient, "p-"+ap.patient[:8]+"@example.org", "PATIENT", "en")
		f.book(t, ap) // one mail to the patient; the doctor is not in the directory
	}
	mailer.during = func() {
		_, err := b.DeliverMail(f.ctx)
		require.NoError(t, err)
	}
	_, err = a.DeliverMail(f.ctx)
	require.NoError(t, err)
	require.Len(t, mailer.sent, 3)
	for id, n := range mailer.sent {
		assert.Equal(t, 1, n, "mail %s sent %d times", id, n)
	}
}

// stoppingMailer is a server that accepts each mail just as the service is
// being stopped: the worker's context ends with the acceptance.
type stoppingMailer struct {
	stop context.CancelFunc
	sent map[string]int
}

func (m *stoppingMailer) Send(_ context.Context, mail service.Mail) error {
	m.sent[mail.ID]++
	if m.stop != nil {
		m.stop()
	}
	return nil
}

// A graceful stop right after the server accepted a mail still records it
// as sent: only a crash in between may send a mail twice (ADR 0029).
func TestMailAcceptedDuringShutdownIsNotSentAgain(t *testing.T) {
	f := newFixture(t)
	tpl, err := templates.Load()
	require.NoError(t, err)
	mailer := &stoppingMailer{sent: map[string]int{}}
	svc := service.New(service.Deps{Repo: f.repo, Mailer: mailer, Templates: tpl, Clock: f.clock, Config: service.DefaultConfig()})
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)

	work, stop := context.WithCancel(context.Background())
	mailer.stop = stop
	_, _ = svc.DeliverMail(work)

	// The next start, or another instance, after the lease.
	mailer.stop = nil
	f.clock.Set(t0.Add(10 * time.Minute))
	_, err = svc.DeliverMail(context.Background())
	require.NoError(t, err)
	require.Len(t, mailer.sent, 1)
	for id, n := range mailer.sent {
		assert.Equal(t, 1, n, "mail %s accepted by the server was sent %d times", id, n)
	}
	d, err := f.repo.ListDeliveries(f.ctx, notice.DeliveryQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, d.Items, 1)
	assert.Equal(t, notice.Sent, d.Items[0].Status)
}

// scriptedFixture is a fixture whose mail goes to srv, with one mail queued.
func scriptedFixture(t *testing.T, srv *emailtest.Scripted) (*fixture, service.Service) {
	f := newFixture(t)
	tpl, err := templates.Load()
	require.NoError(t, err)
	m, err := email.NewSMTP(srv.Config())
	require.NoError(t, err)
	svc := service.New(service.Deps{Repo: f.repo, Mailer: m, Templates: tpl, Clock: f.clock, Config: service.DefaultConfig()})
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	return f, svc
}

// A server that accepted the message and then hangs up on QUIT (no 221)
// has the mail: it is recorded as sent, not sent again on every pass.
func TestAcceptedMailIsNotSentAgainWhenQUITFails(t *testing.T) {
	srv := emailtest.NewScripted(t, "", func(net.Conn) {})
	f, svc := scriptedFixture(t, srv)

	_, _ = svc.DeliverMail(context.Background())
	require.Equal(t, 1, srv.Accepted(), "the server accepted the mail")
	for i := 1; i <= 3; i++ {
		f.clock.Set(t0.Add(time.Duration(i) * time.Hour))
		_, _ = svc.DeliverMail(context.Background())
	}
	d, err := f.repo.ListDeliveries(f.ctx, notice.DeliveryQuery{Limit: 10})
	require.NoError(t, err)
	require.Len(t, d.Items, 1)
	assert.Equal(t, notice.Sent, d.Items[0].Status, "last error: %s", d.Items[0].LastError)
	assert.Equal(t, 1, srv.Accepted(), "an accepted mail was sent %d times", srv.Accepted())
}

// A stop between the server's 250 and its 221 neither cuts the QUIT into a
// failure nor leaves the accepted mail for another pass.
func TestMailAcceptedThenStopDuringQUITIsNotSentAgain(t *testing.T) {
	var cancel context.CancelFunc
	var once sync.Once
	srv := emailtest.NewScripted(t, "", func(c net.Conn) {
		once.Do(func() {
			cancel() // the service is stopped now, the message accepted
			time.Sleep(200 * time.Millisecond)
		})
		_, _ = c.Write([]byte("221 bye\r\n"))
	})
	f, svc := scriptedFixture(t, srv)

	var work context.Context
	work, cancel = context.WithCancel(context.Background())
	defer cancel()
	_, _ = svc.DeliverMail(work)
	require.Equal(t, 1, srv.Accepted(), "the server accepted the mail")

	// The next start, or another instance, after the lease.
	f.clock.Set(t0.Add(10 * time.Minute))
	_, err := svc.DeliverMail(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, srv.Accepted(), "mail accepted by the server was sent %d times", srv.Accepted())
}

// failingMailer answers every message with err.
type failingMailer struct{ err error }

func (m failingMailer) Send(context.Context, service.Mail) error { return m.err }

// A server's reason for refusing a mail is kept for admins as valid text of
// at most 500 characters, whatever bytes the server sent: MariaDB and
// PostgreSQL refuse invalid UTF-8 and NUL, which would leave the mail
// stuck in the queue.
func TestFailureReasonIsStoredAsText(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		tpl, err := templates.Load()
		require.NoError(t, err)
		repo := sqlstore.New(db)
		clk := clocktest.New(t0)
		for _, c := range []struct {
			name string
			err  error
		}{
			{"cut inside a character", errors.New("x" + strings.Repeat("é", 400))},
			{"longer than the report keeps", errors.New("451 " + strings.Repeat("é", 700))},
			{"NUL and invalid UTF-8", fmt.Errorf("%w: 550 \x00bad\xff\xfe", service.ErrMailRejected)},
		} {
			svc := service.New(service.Deps{Repo: repo, Mailer: failingMailer{c.err}, Templates: tpl, Clock: clk, Config: service.DefaultConfig()})
			a := newAppt(t0.Add(72 * time.Hour))
			ev, err := events.New("auth.user_registered", 1, a.patient, map[string]string{"userId": a.patient, "email": "ada@example.org"}, clk.Now())
			require.NoError(t, err)
			require.NoError(t, svc.HandleEvent(context.Background(), ev))
			ev, err = events.New("appointment.booked", 1, a.id, a.data(nil), clk.Now())
			require.NoError(t, err)
			require.NoError(t, svc.HandleEvent(context.Background(), ev))
			n, err := svc.DeliverMail(context.Background())
			require.NoError(t, err, c.name)
			require.Equal(t, 1, n, c.name)
			all, err := repo.ListDeliveries(context.Background(), notice.DeliveryQuery{Limit: 100})
			require.NoError(t, err)
			for _, d := range all.Items {
				assert.NotEqual(t, notice.Sending, d.Status, "%s: the attempt ended", c.name)
				assert.True(t, utf8.ValidString(d.LastError), c.name)
				assert.NotContains(t, d.LastError, "\x00", c.name)
				assert.LessOrEqual(t, utf8.RuneCountInString(d.LastError), 500, c.name)
			}
		}
	})
}

// Fields no column can hold (too long, NUL, not an id) make an event
// malformed, for the dead-letter stream, instead of a database error that
// would have the broker redeliver it without end.
func TestEventsWithUnstorableFieldsAreMalformed(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		tpl, err := templates.Load()
		require.NoError(t, err)
		clk := clocktest.New(t0)
		svc := service.New(service.Deps{Repo: sqlstore.New(db), Mailer: failingMailer{}, Templates: tpl, Clock: clk, Config: service.DefaultConfig()})
		user := ids.New()
		reg := func(extra map[string]string) map[string]string {
			d := map[string]string{"userId": user, "email": "ada@example.org", "role": "PATIENT", "language": "en"}
			for k, v := range extra {
				d[k] = v
			}
			return d
		}
		a := newAppt(t0.Add(72 * time.Hour))
		cases := []struct {
			name, typ string
			data      any
		}{
			{"user id too long", "auth.user_registered", reg(map[string]string{"userId": strings.Repeat("1", 65)})},
			{"user id not ASCII", "auth.user_registered", reg(map[string]string{"userId": "ü" + user[2:]})},
			{"role too long", "auth.user_registered", reg(map[string]string{"role": strings.Repeat("R", 17)})},
			{"email too long", "auth.user_registered", reg(map[string]string{"email": strings.Repeat("a", 250) + "@example.org"})},
			{"doctor name too long", "appointment.booked", a.data(map[string]any{"doctorName": strings.Repeat("W", 201)})},
			{"doctor name with NUL", "appointment.booked", a.data(map[string]any{"doctorName": "Dr.\x00Weber"})},
			{"appointment id too long", "appointment.booked", a.data(map[string]any{"appointmentId": strings.Repeat("a", 65)})},
			{"patient user id not an id", "appointment.booked", a.data(map[string]any{"patientUserId": "x\x00"})},
		}
		for _, c := range cases {
			ev, err := events.New(c.typ, 1, user, c.data, clk.Now())
			require.NoError(t, err)
			assert.ErrorIs(t, svc.HandleEvent(context.Background(), ev), service.ErrMalformed, c.name)
		}
		ok, err := events.New("appointment.booked", 1, a.id, a.data(map[string]any{"doctorName": strings.Repeat("W", 200)}), clk.Now())
		require.NoError(t, err)
		assert.NoError(t, svc.HandleEvent(context.Background(), ok), "a name of 200 characters fits")
	})
}

// A mail the server accepted whose MarkSent loses a deadlock is marked sent
// on the store's next attempt, not left 'sending' to be claimed and sent
// again once its lease lapses. The deadlock is PostgreSQL's own error
// (40P01), raised once by a trigger on the statement that marks it sent.
func TestAMailWhoseMarkSentLosesADeadlockIsSentOnce(t *testing.T) {
	db := sqltest.Postgres(t, sqlstore.Migrations())
	ctx := context.Background()
	for _, q := range []string{
		`CREATE SEQUENCE mark_sent_faults`,
		`CREATE FUNCTION deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.status = 'sent' AND nextval('mark_sent_faults') = 1 THEN
				RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
			END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER deadlock_once BEFORE UPDATE ON deliveries FOR EACH ROW EXECUTE FUNCTION deadlock_once()`,
	} {
		_, err := db.ExecContext(ctx, q)
		require.NoError(t, err)
	}
	srv := emailtest.NewServer(t)
	mailer, err := email.NewSMTP(srv.Config())
	require.NoError(t, err)
	tpl, err := templates.Load()
	require.NoError(t, err)
	store := sqlstore.New(db)
	clk := clocktest.New(t0)
	cfg := service.DefaultConfig()
	svc := service.New(service.Deps{Repo: store, Mailer: mailer, Templates: tpl, Clock: clk, Config: cfg})
	f := &fixture{svc: svc, repo: store, smtp: srv, clock: clk, ctx: ctx}

	a := newAppt(t0.Add(72 * time.Hour))
	a.doctor = ""
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)

	_, err = svc.DeliverMail(ctx)
	require.NoError(t, err, "the deadlock is retried")
	clk.Set(t0.Add(cfg.Lease + time.Second))
	_, err = svc.DeliverMail(ctx)
	require.NoError(t, err)
	assert.Len(t, srv.Messages(), 1, "the mail is not sent again once its lease lapsed")
	sent, err := store.ListDeliveries(ctx, notice.DeliveryQuery{Status: notice.Sent, Limit: 10})
	require.NoError(t, err)
	assert.Len(t, sent.Items, 1)
}
