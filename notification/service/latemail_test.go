package service_test

import (
	"context"
	"strings"
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
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// auth.user_registered and the appointment events come on separate streams,
// in no order: a mail to a user the directory does not know yet is held,
// then written in their language and queued when their registration arrives.
func TestBookingConfirmationReachesAPatientRegisteredAfterTheBooking(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))

	f.book(t, a)
	assert.Empty(t, f.deliver(t), "held: no address yet")
	f.register(t, a.patient, "late@example.org", "PATIENT", "de")

	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Contains(t, mails[0].To, "late@example.org")
	assert.Contains(t, mails[0].Subject, "Dr. Lena Weber")
	assert.Contains(t, mails[0].Subject, "Termin", "in the language the registration names")

	f.register(t, a.patient, "late@example.org", "PATIENT", "de")
	assert.Len(t, f.deliver(t), 1, "released once")
}

func TestSlotOfferReachesAPatientRegisteredAfterTheOffer(t *testing.T) {
	f := newFixture(t)
	doctor, patient := ids.New(), ids.New()
	f.handle(t, f.event(t, "appointment.slot_freed", doctor, slotFreed(doctor, patient, t0.Add(48*time.Hour))))
	f.register(t, patient, "waiting@example.org", "PATIENT", "en")

	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Contains(t, mails[0].To, "waiting@example.org")
}

// A held mail about an appointment a later event cancelled is not sent; the
// cancellation, held too, tells the patient.
func TestHeldMailOfACancelledAppointmentIsDroppedButItsCancellationGoes(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	f.book(t, a)
	a.version = 2
	f.handle(t, f.event(t, "appointment.cancelled", a.id, a.data(map[string]any{"status": "cancelled", "cancellationReason": "doctor-request"})))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")

	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Equal(t, "Your appointment with Dr. Lena Weber is cancelled", mails[0].Subject)
}

// A registration that comes after the appointment began releases nothing,
// and the held mails of users who never register go with the prune.
func TestHeldMailExpiresAtTheAppointmentsStart(t *testing.T) {
	f := newFixture(t)
	a, never := newAppt(t0.Add(72*time.Hour)), newAppt(t0.Add(72*time.Hour))
	f.book(t, a)
	f.book(t, never)

	f.clock.Set(a.start.Add(time.Minute))
	f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
	assert.Empty(t, f.deliver(t))
	assert.Empty(t, f.kinds(t), "dropped, not queued to fail")

	n, err := f.svc.Prune(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the mails held for the other patient and both doctors")
}

// pausingRepo pauses the appointment event's transaction right after it
// found the patient unknown, so the patient's registration commits then.
type pausingRepo struct {
	service.Repository
	userID          string
	sawUnknown, go_ chan struct{}
}

type pausingTx struct {
	service.Tx
	r *pausingRepo
}

func (r *pausingRepo) Apply(ctx context.Context, ev events.Event, now time.Time, fn func(ctx context.Context, tx service.Tx) error) (bool, error) {
	if ev.Type != "appointment.booked" {
		return r.Repository.Apply(ctx, ev, now, fn)
	}
	return r.Repository.Apply(ctx, ev, now, func(ctx context.Context, tx service.Tx) error {
		return fn(ctx, pausingTx{Tx: tx, r: r})
	})
}

func (t pausingTx) User(ctx context.Context, id string) (notice.User, bool, error) {
	u, known, err := t.Tx.User(ctx, id)
	if id == t.r.userID && !known && err == nil {
		close(t.r.sawUnknown)
		<-t.r.go_
	}
	return u, known, err
}

// A booking applied while the patient's registration is applied on the
// other stream (two consumers, or two instances, at READ COMMITTED): the
// booking finds the patient unknown and holds the mail, which the
// registration, committed first, cannot see; the next mail pass releases it.
func TestABookingAppliedWhileThePatientRegistersReachesThePatient(t *testing.T) {
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
			store := sqlstore.New(open(t))
			a := newAppt(t0.Add(72 * time.Hour))
			repo := &pausingRepo{Repository: store, userID: a.patient, sawUnknown: make(chan struct{}), go_: make(chan struct{})}
			clk := clocktest.New(t0)
			svc := service.New(service.Deps{Repo: repo, Mailer: mailer, Templates: tpl, Clock: clk, Config: service.DefaultConfig()})
			f := &fixture{svc: svc, repo: store, smtp: srv, clock: clk, ctx: context.Background()}

			booked := make(chan error, 1)
			go func() { booked <- svc.HandleEvent(f.ctx, f.event(t, "appointment.booked", a.id, a.data(nil))) }()
			<-repo.sawUnknown
			f.register(t, a.patient, "ada@example.org", "PATIENT", "en")
			close(repo.go_)
			require.NoError(t, <-booked)

			var toPatient int
			for _, m := range f.deliver(t) {
				if strings.Contains(m.To, "ada@example.org") {
					toPatient++
				}
			}
			assert.NotZero(t, toPatient, "the booking confirmation reaches the patient registered meanwhile")
		})
	}
}

// During a rolling upgrade the registration may be applied by an instance
// of the previous version, which only puts the user: the next mail pass
// releases the mail a new instance held for that user.
func TestHeldMailOfAPatientRegisteredByAnOlderInstanceGoesOut(t *testing.T) {
	f := newFixture(t)
	a := newAppt(t0.Add(72 * time.Hour))
	a.doctor = ""
	f.book(t, a) // a new instance holds the confirmation

	// The old instance applies auth.user_registered as before the fix.
	ev := f.event(t, "auth.user_registered", a.patient, map[string]string{"userId": a.patient, "email": "ada@example.org", "role": "PATIENT", "language": "en"})
	_, err := f.repo.Apply(f.ctx, ev, f.clock.Now(), func(ctx context.Context, tx service.Tx) error {
		return tx.PutUser(ctx, notice.User{ID: a.patient, Email: "ada@example.org", Role: "PATIENT", Language: "en"})
	})
	if err != nil {
		t.Fatal(err)
	}

	for range 3 { // new instances' passes, an hour apart
		f.clock.Set(f.clock.Now().Add(time.Hour))
		_, _ = f.svc.Prune(f.ctx)
		f.deliver(t)
	}
	var toPatient int
	for _, m := range f.deliver(t) {
		if strings.Contains(m.To, "ada@example.org") {
			toPatient++
		}
	}
	assert.Equal(t, 1, toPatient, "the held confirmation reaches the patient the directory now knows")
}
