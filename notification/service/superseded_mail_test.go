package service_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

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
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// A booking confirmation held back by an SMTP outage is withdrawn when the
// appointment is cancelled: the queue takes mail by next_attempt_at, and the
// confirmation's backoff (up to 1 h) would put it behind the fresh
// cancellation, leaving the patient with "is booked" for a visit that no
// longer exists.
func TestConfirmationStillQueuedIsWithdrawnByTheCancellation(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")

	f.smtp.Down()
	f.book(t, a)
	// A slot offer queued with it names no appointment: the cancellation
	// leaves it be.
	doctor := ids.New()
	f.handle(t, f.event(t, "appointment.slot_freed", doctor, slotFreed(doctor, a.patient, t0.Add(96*time.Hour))))
	// The outage lasts a while: the confirmation's backoff grows to the hour.
	for i := 0; i < 9; i++ {
		f.deliver(t)
		f.clock.Advance(time.Hour)
	}
	f.deliver(t) // failed again: next attempt in an hour
	f.clock.Advance(5 * time.Minute)

	a.version = 2
	f.handle(t, f.event(t, "appointment.cancelled", a.id, a.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})))
	f.smtp.Up()
	for i := 0; i < 8; i++ {
		f.deliver(t)
		f.clock.Advance(10 * time.Minute)
	}

	var subjects []string
	for _, m := range f.smtp.Messages() {
		subjects = append(subjects, emailtest.Parse(t, m.Raw).Subject)
	}
	assert.ElementsMatch(t, []string{"Your appointment with Dr. Lena Weber is cancelled",
		"A time is free with Dr. Lena Weber: Friday, 12 March 2027, 10:00 (UTC+1)"}, subjects, "the cancellation and the offer only")
	assert.NotContains(t, subjects, "Your appointment with Dr. Lena Weber is booked",
		"a confirmation of version 1 went out after version 2 cancelled the appointment: %q", subjects)
	all, err := f.svc.Deliveries(f.ctx, authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}, notice.DeliveryQuery{Limit: 100})
	require.NoError(t, err)
	for _, d := range all.Items {
		if d.Kind == notice.AppointmentBooked {
			assert.Equal(t, notice.Failed, d.Status)
			assert.Equal(t, "withdrawn: the appointment was cancelled", d.LastError)
		}
	}
}

// The same with two moves: the backed-off mail of version 2, "moved to
// Friday", is withdrawn by version 3's "moved to Saturday", so the patient's
// last word is the appointment's current time.
func TestChangeMailStillQueuedIsWithdrawnByALaterChange(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	f.deliver(t)

	f.smtp.Down()
	friday := a
	friday.start, friday.version = a.start.Add(24*time.Hour), 2
	f.handle(t, f.event(t, "appointment.rescheduled", a.id, friday.data(map[string]any{"previousStart": a.start, "previousEnd": a.start.Add(30 * time.Minute)})))
	for i := 0; i < 9; i++ {
		f.deliver(t)
		f.clock.Advance(time.Hour)
	}
	f.deliver(t)
	f.clock.Advance(5 * time.Minute)

	saturday := a
	saturday.start, saturday.version = a.start.Add(48*time.Hour), 3
	f.handle(t, f.event(t, "appointment.rescheduled", a.id, saturday.data(map[string]any{"previousStart": friday.start, "previousEnd": friday.start.Add(30 * time.Minute)})))
	f.smtp.Up()
	for i := 0; i < 8; i++ {
		f.deliver(t)
		f.clock.Advance(10 * time.Minute)
	}

	var texts []string
	for _, m := range f.smtp.Messages()[1:] { // after the confirmation
		texts = append(texts, emailtest.Parse(t, m.Raw).Text)
	}
	require.NotEmpty(t, texts)
	assert.Contains(t, texts[len(texts)-1], "Saturday, 13 March 2027, 10:00",
		"the last word the patient gets must be the appointment's current time; got in order: %q", texts)
	for _, text := range texts {
		assert.NotContains(t, text, "to Friday", "version 2's move went out after version 3's")
	}
}

// A cancelled appointment may later be marked entered-in-error
// (Cancelled -> EnteredInError). That status change mails nothing, so it
// withdraws no change mail: the cancellation an SMTP outage holds back
// still goes out, or the patient's last word would stay "is booked".
func TestStatusChangeThatMailsNothingKeepsTheQueuedCancellation(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.register(t, a.doctor, "weber@example.org", "DOCTOR", "en")
	f.book(t, a)
	require.Len(t, f.deliver(t), 2, "the confirmations")

	f.smtp.Down()
	a.version = 2
	f.handle(t, f.event(t, "appointment.cancelled", a.id, a.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})))
	f.deliver(t) // fails: the cancellation waits in the queue
	f.clock.Advance(10 * time.Minute)

	a.version = 3
	f.handle(t, f.event(t, "appointment.status_changed", a.id, a.data(map[string]any{"status": "entered-in-error"})))

	f.smtp.Up()
	for i := 0; i < 6; i++ {
		f.clock.Advance(10 * time.Minute)
		f.deliver(t)
	}
	var cancelled []string
	for _, m := range f.deliver(t) {
		if strings.Contains(m.Subject, "ancel") {
			cancelled = append(cancelled, m.To)
		}
	}
	assert.ElementsMatch(t, []string{"<ada@example.org>", "<weber@example.org>"}, cancelled,
		"the cancellation mails were withdrawn by a later status change that mails nothing")
}

// Booked -> EnteredInError is a status change (appointment.CanMove): the
// appointment no longer exists and its slot is freed. A confirmation an
// SMTP outage holds back must not go out after it, telling the patient and
// the doctor "is booked" for a visit that is void; the status change mails
// nothing of its own, so the confirmation would be the last word.
func TestConfirmationStillQueuedIsWithdrawnWhenTheAppointmentIsEnteredInError(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.register(t, a.doctor, "weber@example.org", "DOCTOR", "en")

	f.smtp.Down()
	f.book(t, a)
	f.deliver(t) // fails: the confirmations wait in the queue
	f.clock.Advance(10 * time.Minute)

	a.version = 2
	f.handle(t, f.event(t, "appointment.status_changed", a.id, a.data(map[string]any{"status": "entered-in-error", "previousStatus": "booked"})))

	f.smtp.Up()
	for i := 0; i < 6; i++ {
		f.clock.Advance(10 * time.Minute)
		f.deliver(t)
	}
	var booked []string
	for _, m := range f.deliver(t) {
		if strings.Contains(m.Subject, "is booked") {
			booked = append(booked, m.To)
		}
	}
	assert.Empty(t, booked, "a confirmation of version 1 went out after version 2 voided the appointment (entered-in-error)")
	all, err := f.svc.Deliveries(f.ctx, authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}, notice.DeliveryQuery{Limit: 100})
	require.NoError(t, err)
	for _, d := range all.Items {
		if d.Kind == notice.AppointmentBooked {
			assert.Equal(t, notice.Failed, d.Status, "confirmation to %s", d.Recipient)
		}
	}
}

// hookRepo runs a hook inside the transaction of the event named by
// eventID, right after its Reminder read: the moment another event of the
// appointment, on another durable, commits.
type hookRepo struct {
	*sqlstore.Store
	eventID string
	once    sync.Once
	hook    func()
}

func (r *hookRepo) Apply(ctx context.Context, ev events.Event, now time.Time, fn func(ctx context.Context, tx service.Tx) error) (bool, error) {
	if ev.ID != r.eventID {
		return r.Store.Apply(ctx, ev, now, fn)
	}
	return r.Store.Apply(ctx, ev, now, func(ctx context.Context, tx service.Tx) error {
		return fn(ctx, &hookTx{Tx: tx, r: r})
	})
}

type hookTx struct {
	service.Tx
	r *hookRepo
}

func (t *hookTx) Reminder(ctx context.Context, id string) (notice.Reminder, bool, error) {
	rem, found, err := t.Tx.Reminder(ctx, id)
	t.r.once.Do(t.r.hook)
	return rem, found, err
}

// booked v1 and cancelled v2 arrive at once on separate durables. The
// cancellation reads no reminder (v1 has not committed, and SELECT ... FOR
// UPDATE locks no row that does not exist), and v1 then commits its
// reminder and confirmation. The cancellation's reminder insert fails on
// v1's row rather than update it, and the cancellation is applied again:
// it reads v1's reminder and withdraws v1's confirmation, which would
// otherwise stay queued beside the cancellation, where an outage's
// backoff could send it last.
func TestConfirmationOfABookingCommittedWhileTheCancellationAppliesIsWithdrawn(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *sqldb.DB{
		"mysql":    func(t *testing.T) *sqldb.DB { return sqltest.MySQL(t, sqlstore.Migrations()) },
		"postgres": func(t *testing.T) *sqldb.DB { return sqltest.Postgres(t, sqlstore.Migrations()) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := emailtest.NewServer(t)
			mailer, err := email.NewSMTP(srv.Config())
			require.NoError(t, err)
			tpl, err := templates.Load()
			require.NoError(t, err)
			clk := clocktest.New(t0)
			repo := &hookRepo{Store: sqlstore.New(open(t))}
			svc := service.New(service.Deps{Repo: repo, Mailer: mailer, Templates: tpl, Clock: clk, Config: service.DefaultConfig()})
			ctx := context.Background()
			ev := func(typ, subject string, data any) events.Event {
				e, err := events.New(typ, 1, subject, data, clk.Now())
				require.NoError(t, err)
				return e
			}

			a := newAppt(t0.Add(72 * time.Hour))
			require.NoError(t, svc.HandleEvent(ctx, ev("auth.user_registered", a.patient, map[string]string{"userId": a.patient, "email": "ada@example.org", "role": "PATIENT", "language": "en"})))
			booked := ev("appointment.booked", a.id, a.data(nil))
			a.version = 2
			cancelled := ev("appointment.cancelled", a.id, a.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"}))
			repo.eventID = cancelled.ID
			repo.hook = func() { require.NoError(t, svc.HandleEvent(ctx, booked)) }
			require.NoError(t, svc.HandleEvent(ctx, cancelled))

			all, err := svc.Deliveries(ctx, authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}, notice.DeliveryQuery{Limit: 100})
			require.NoError(t, err)
			kinds := map[notice.Kind]notice.DeliveryStatus{}
			for _, d := range all.Items {
				kinds[d.Kind] = d.Status
			}
			require.Contains(t, kinds, notice.AppointmentCancelled)
			require.Contains(t, kinds, notice.AppointmentBooked, "the booking committed while the cancellation applied")
			assert.Equal(t, notice.Failed, kinds[notice.AppointmentBooked], "version 1's confirmation is still queued beside version 2's cancellation")
		})
	}
}

// cancelled v2 and status_changed v3 (Cancelled -> EnteredInError) are
// published together on separate subjects and applied by separate workers;
// v3 may be applied first. The cancellation, older than the reminder, then
// leaves the reminder alone but is still mailed: no change was mailed
// after it, and v3 mails nothing, so the patient's last word would stay
// "is booked".
func TestCancellationAppliedAfterTheStatusChangeItLedToIsStillMailed(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	require.Len(t, f.deliver(t), 1, "the confirmation")

	v2, v3 := a, a
	v2.version, v3.version = 2, 3
	cancelled := f.event(t, "appointment.cancelled", a.id, v2.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"}))
	f.handle(t, f.event(t, "appointment.status_changed", a.id, v3.data(map[string]any{"status": "entered-in-error", "previousStatus": "cancelled"})))
	f.handle(t, cancelled)

	var cancels int
	for _, m := range f.deliver(t) {
		if strings.Contains(m.Subject, "cancelled") {
			cancels++
		}
	}
	assert.Equal(t, 1, cancels, "the cancellation was never mailed because the status change it caused was applied first")
}

// The same cancellation, replayed or redelivered after it was mailed late,
// is not mailed twice, and a cancellation whose start has passed is not
// mailed late at all.
func TestLateCancellationIsMailedOnceAndNotAfterItsStart(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	f.book(t, a)
	v2, v3 := a, a
	v2.version, v3.version = 2, 3
	f.handle(t, f.event(t, "appointment.status_changed", a.id, v3.data(map[string]any{"status": "entered-in-error", "previousStatus": "cancelled"})))
	f.handle(t, f.event(t, "appointment.cancelled", a.id, v2.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})))
	// A replay after the inbox forgot the claim: a new event id.
	f.handle(t, f.event(t, "appointment.cancelled", a.id, v2.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})))
	var cancels int
	for _, m := range f.deliver(t) {
		if strings.Contains(m.Subject, "cancelled") {
			cancels++
		}
	}
	assert.Equal(t, 1, cancels)

	b := newAppt(t0.Add(time.Hour))
	f.book(t, b)
	w2, w3 := b, b
	w2.version, w3.version = 2, 3
	f.handle(t, f.event(t, "appointment.status_changed", b.id, w3.data(map[string]any{"status": "entered-in-error", "previousStatus": "cancelled"})))
	f.clock.Set(b.start.Add(time.Minute))
	f.handle(t, f.event(t, "appointment.cancelled", b.id, w2.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})))
	assert.Len(t, f.inbox(t, b.patient).Items, 1, "only the confirmation: the cancellation came after the start")
}

// A "booked" applied after the status change that voided the appointment
// (Booked -> EnteredInError) is not confirmed: a late change event mails
// only while the appointment is still booked at its start.
func TestLateBookingOfAVoidedAppointmentIsNotConfirmed(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	v2 := a
	v2.version = 2
	f.handle(t, f.event(t, "appointment.status_changed", a.id, v2.data(map[string]any{"status": "entered-in-error", "previousStatus": "booked"})))
	f.book(t, a) // version 1 arrives late
	assert.Empty(t, f.deliver(t))
	assert.Empty(t, f.inbox(t, a.patient).Items)

	// Still booked (a status change that kept it booked came first): the
	// late confirmation goes out, and the reminder stays as it is.
	b := newAppt(t0.Add(72 * time.Hour))
	f.register(t, b.patient, "bob@example.org", "PATIENT", "en")
	w2 := b
	w2.version = 2
	f.handle(t, f.event(t, "appointment.status_changed", b.id, w2.data(map[string]any{"status": "booked", "previousStatus": "proposed"})))
	f.book(t, b)
	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Contains(t, mails[0].Subject, "is booked")
}

// A cancellation held for a patient the directory does not know yet is
// released when they register, also when the status change it led to
// (entered-in-error) was applied meanwhile: that change mails nothing, so
// it does not tell of the cancellation in its place.
func TestHeldCancellationOutlivesTheStatusChangeItLedTo(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.book(t, a)
	v2, v3 := a, a
	v2.version, v3.version = 2, 3
	f.handle(t, f.event(t, "appointment.cancelled", a.id, v2.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})))
	f.handle(t, f.event(t, "appointment.status_changed", a.id, v3.data(map[string]any{"status": "entered-in-error", "previousStatus": "cancelled"})))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")

	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Equal(t, "Your appointment with Dr. Lena Weber is cancelled", mails[0].Subject)
}

// During a rolling upgrade an instance that predates reminders'
// change_version stores reminders without it: its UPDATE leaves the value
// of the change before (here the booking's, 1, under the cancellation's
// version 2), its INSERT the column's default, 0. A replay of the event it
// applied (a dead letter replayed after the inbox forgot its claim) is known
// by the mail already queued, and mails nothing again.
func TestReplayOfAChangeAnOlderInstanceAppliedMailsNothingAgain(t *testing.T) {
	count := func(mails []emailtest.Parsed, subject string) (n int) {
		for _, m := range mails {
			if strings.Contains(m.Subject, subject) {
				n++
			}
		}
		return n
	}
	t.Run("a cancellation it stored with UPDATE", func(t *testing.T) {
		f := newFixture(t)
		a := newAppt(t0.Add(72 * time.Hour))
		f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
		f.book(t, a)
		v2 := a
		v2.version = 2
		cancel := v2.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})
		f.handle(t, f.event(t, "appointment.cancelled", a.id, cancel))
		_, err := f.db.ExecContext(f.ctx, `UPDATE reminders SET change_version = 1 WHERE appointment_id = ?`, a.id)
		require.NoError(t, err)

		f.handle(t, f.event(t, "appointment.cancelled", a.id, cancel))
		assert.Equal(t, 1, count(f.deliver(t), "cancelled"))
	})
	t.Run("a booking it stored with INSERT", func(t *testing.T) {
		f := newFixture(t)
		a := newAppt(t0.Add(72 * time.Hour))
		f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
		f.book(t, a)
		_, err := f.db.ExecContext(f.ctx, `UPDATE reminders SET change_version = 0 WHERE appointment_id = ?`, a.id)
		require.NoError(t, err)

		f.book(t, a)
		assert.Equal(t, 1, count(f.deliver(t), "is booked"))
	})
}
