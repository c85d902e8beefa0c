package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/notification/templates"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/ids"
)

// A reminder that has fired queues its mail; the mail worker sends it some
// seconds later, or hours later while the mail server is away (30 s doubling
// to 1 h). A cancellation or a reschedule applied meanwhile withdraws the
// queued mail too: no "Reminder: your appointment ... Thursday 10:00" for a
// visit that no longer exists, or no longer is at that time.
func TestCancelledAppointmentsQueuedReminderIsNotSent(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	require.Len(t, f.deliver(t), 1, "the confirmation")

	f.smtp.Down() // a mail server outage around the reminder's time
	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	f.deliver(t) // the reminder's first attempt fails; it waits in the queue

	f.clock.Advance(time.Hour)
	a.version = 2
	f.handle(t, f.event(t, "appointment.cancelled", a.id, a.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})))

	f.smtp.Up()
	f.clock.Advance(2 * time.Hour)
	mails := f.deliver(t)
	var subjects []string
	for _, m := range mails {
		subjects = append(subjects, m.Subject)
	}
	for _, s := range subjects {
		assert.False(t, strings.HasPrefix(s, "Reminder"), "a reminder went out after the cancellation: %q", subjects)
	}
}

// The same with a reschedule: the patient is told the visit moved to
// Saturday, then reminded of it on Thursday at the old time.
func TestRescheduledAppointmentsQueuedReminderIsNotSentForTheOldTime(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	f.deliver(t)

	f.smtp.Down()
	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	f.deliver(t)

	f.clock.Advance(time.Hour)
	moved := a
	moved.start, moved.version = a.start.Add(48*time.Hour), 2
	f.handle(t, f.event(t, "appointment.rescheduled", a.id, moved.data(map[string]any{"previousStart": a.start, "previousEnd": a.start.Add(30 * time.Minute)})))

	f.smtp.Up()
	f.clock.Advance(2 * time.Hour)
	for _, m := range f.deliver(t) {
		assert.NotEqual(t, "Reminder: your appointment with Dr. Lena Weber on Thursday, 11 March 2027, 10:00 (UTC+1)", m.Subject,
			"a reminder of the old time went out after the reschedule to Saturday")
	}
}

// queueReminder books a, fires its reminder while the mail server is away
// and leaves the reminder's mail in the queue; the confirmation went out.
func (f *fixture) queueReminder(t *testing.T, a appt) {
	t.Helper()
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	require.Len(t, f.deliver(t), 1, "the confirmation")
	f.smtp.Down()
	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	f.deliver(t)
	f.smtp.Up()
}

func (f *fixture) reminderDelivery(t *testing.T) notice.Delivery {
	t.Helper()
	all, err := f.svc.Deliveries(f.ctx, authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}, notice.DeliveryQuery{Limit: 100})
	require.NoError(t, err)
	for _, d := range all.Items {
		if d.Kind == notice.AppointmentReminder {
			return d
		}
	}
	t.Fatal("no reminder in the delivery report")
	return notice.Delivery{}
}

func TestWithdrawnReminderIsReportedWithItsReason(t *testing.T) {
	for name, c := range map[string]struct {
		typ  string
		data map[string]any
		why  string
	}{
		"cancelled":        {"appointment.cancelled", map[string]any{"status": "cancelled", "cancellationReason": "clinic"}, "withdrawn: the appointment was cancelled"},
		"moved":            {"appointment.rescheduled", map[string]any{"start": t0.Add(120 * time.Hour)}, "withdrawn: the appointment was moved"},
		"entered in error": {"appointment.status_changed", map[string]any{"status": "entered-in-error", "previousStatus": "booked"}, "withdrawn: the appointment is no longer booked"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			a := newAppt(t0.Add(72 * time.Hour))
			f.queueReminder(t, a)
			a.version = 2
			f.handle(t, f.event(t, c.typ, a.id, a.data(c.data)))

			d := f.reminderDelivery(t)
			assert.Equal(t, notice.Failed, d.Status, "withdrawn at once, not when the worker comes to it")
			assert.Equal(t, c.why, d.LastError)
			f.clock.Advance(2 * time.Hour)
			for _, m := range f.deliver(t) {
				assert.False(t, strings.HasPrefix(m.Subject, "Reminder"), "a withdrawn reminder went out: %q", m.Subject)
			}
		})
	}
}

// A change that leaves the appointment where it was, still booked, leaves
// its reminder to go out.
func TestReminderStaysForAChangeThatKeepsTheAppointment(t *testing.T) {
	for name, c := range map[string]struct {
		typ  string
		data map[string]any
	}{
		"still booked":       {"appointment.status_changed", map[string]any{"status": "booked", "previousStatus": "booked"}},
		"moved to its start": {"appointment.rescheduled", map[string]any{"end": t0.Add(72*time.Hour + time.Hour)}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			a := newAppt(t0.Add(72 * time.Hour))
			f.queueReminder(t, a)
			a.version = 2
			f.handle(t, f.event(t, c.typ, a.id, a.data(c.data)))

			f.clock.Advance(time.Hour)
			var reminders int
			for _, m := range f.deliver(t) {
				if strings.HasPrefix(m.Subject, "Reminder") {
					reminders++
				}
			}
			assert.Equal(t, 1, reminders)
		})
	}
}

// A worker has taken the reminder's mail in its batch, and the
// cancellation is applied while it sends the mail before it: the reminder
// is not sent. Its renewal, the last step before the server, refuses it.
func TestReminderWithdrawnWhileAWorkerHoldsItIsNotSent(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	f.clock.Set(a.start.Add(-24 * time.Hour))
	n, err := f.svc.FireDueReminders(f.ctx) // the confirmation and the reminder wait together
	require.NoError(t, err)
	require.Equal(t, 1, n)

	tpl, err := templates.Load()
	require.NoError(t, err)
	mailer := &recordingMailer{}
	worker := service.New(service.Deps{Repo: f.repo, Mailer: mailer, Templates: tpl, Clock: f.clock, Config: service.DefaultConfig()})
	cancelled := a
	cancelled.version = 2
	mailer.during = func() {
		f.handle(t, f.event(t, "appointment.cancelled", a.id, cancelled.data(map[string]any{"status": "cancelled", "cancellationReason": "clinic"})))
	}
	attempted, err := worker.DeliverMail(f.ctx)
	require.NoError(t, err)
	require.Equal(t, 2, attempted, "both were in the batch")
	require.Len(t, mailer.subjects, 1)
	assert.Equal(t, "Your appointment with Dr. Lena Weber is booked", mailer.subjects[0])
	d := f.reminderDelivery(t)
	assert.Equal(t, notice.Failed, d.Status)
	assert.Equal(t, "withdrawn: the appointment was cancelled", d.LastError)
}

// recordingMailer accepts every mail and runs during while it sends the
// first one.
type recordingMailer struct {
	subjects []string
	during   func()
}

func (m *recordingMailer) Send(_ context.Context, mail service.Mail) error {
	m.subjects = append(m.subjects, mail.Subject)
	if m.during != nil {
		during := m.during
		m.during = nil
		during()
	}
	return nil
}
