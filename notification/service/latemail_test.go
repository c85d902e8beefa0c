package service_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/ids"
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

	n, err := f.svc.Prune(f.ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the mails held for the other patient and both doctors")
}
