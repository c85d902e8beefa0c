package service_test

import (
	"html"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/events/schematest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/inbox"
)

// The appointment service takes the first waiting patient off the waitlist
// and offers them a freed slot through appointment.slot_freed (appointment
// README, "Waitlist"). Nobody but the notification service tells that
// patient: they have left the list and learn of the slot here or never.
func TestSlotFreedOfferReachesThePatient(t *testing.T) {
	f := newFixture(t)
	assert.Contains(t, service.Topics, "medisync.appointment.slot_freed",
		"the notification consumer must subscribe to the waitlist offer")

	patientUser, doctor := ids.New(), ids.New()
	f.register(t, patientUser, "ada@example.org", "PATIENT", "en")
	start := t0.Add(72 * time.Hour)
	f.handle(t, f.event(t, "appointment.slot_freed", doctor, map[string]any{
		"doctorId": doctor, "start": start, "end": start.Add(30 * time.Minute),
		"offeredToPatientId": ids.New(), "offeredToPatientUserId": patientUser,
	}))

	assert.Len(t, f.inbox(t, patientUser).Items, 1, "the offered patient is told of the freed slot in the inbox")
	mails := f.deliver(t)
	require.Len(t, mails, 1, "and by mail")
}

// slotFreed is the data of an offer of the slot at start to patientUser,
// as the appointment service writes it.
func slotFreed(doctor, patientUser string, start time.Time) map[string]any {
	return map[string]any{
		"doctorId": doctor, "doctorName": "Dr. Lena Weber", "timeZone": "Europe/Berlin",
		"start": start, "end": start.Add(30 * time.Minute),
		"offeredToPatientId": ids.New(), "offeredToPatientUserId": patientUser,
	}
}

func TestSlotOfferIsWrittenInTheDoctorsTimeAndTheReadersLanguage(t *testing.T) {
	f := newFixture(t)
	en, de, doctor := ids.New(), ids.New(), ids.New()
	f.register(t, en, "ada@example.org", "PATIENT", "en")
	f.register(t, de, "max@example.de", "PATIENT", "de-AT")
	start := t0.Add(72 * time.Hour) // Thursday 09:00 UTC, 10:00 in Berlin
	offer := f.event(t, "appointment.slot_freed", doctor, slotFreed(doctor, en, start))
	schematest.Validate(t, offer) // the offer as its schema has it
	f.handle(t, offer)
	f.handle(t, offer) // redelivered
	f.handle(t, f.event(t, "appointment.slot_freed", doctor, slotFreed(doctor, de, start.Add(time.Hour))))

	mails := f.deliver(t)
	require.Len(t, mails, 2, "one mail per offer, however often it is delivered")
	byTo := map[string]int{}
	for i, m := range mails {
		byTo[m.To] = i
	}
	m := mails[byTo["<ada@example.org>"]]
	assert.Equal(t, "A time is free with Dr. Lena Weber: Thursday, 11 March 2027, 10:00 (UTC+1)", m.Subject)
	assert.Contains(t, m.Text, "(Europe/Berlin)", "the mail names the zone of its time")
	assert.Contains(t, html.UnescapeString(m.HTML), "<strong>Thursday, 11 March 2027, 10:00 (UTC+1)</strong>")
	m = mails[byTo["<max@example.de>"]]
	assert.Equal(t, "Ein Termin ist frei bei Dr. Lena Weber: Donnerstag, 11. März 2027, 11:00 Uhr (UTC+1)", m.Subject)
	assert.Contains(t, m.HTML, `lang="de"`)

	in := f.inbox(t, en)
	require.Len(t, in.Items, 1, "one inbox entry for a redelivered offer")
	assert.Equal(t, notice.SlotOffered, in.Items[0].Kind)
	assert.Equal(t, "A time you were waiting for is free with Dr. Lena Weber: Thursday, 11 March 2027, 10:00 (UTC+1). Book it if you want it.", in.Items[0].Body)
}

// An offer written before the producer named the doctor and their zone is
// still told, in UTC, which the mail names.
func TestSlotOfferWithoutTheDoctorsZoneIsWrittenInUTC(t *testing.T) {
	f := newFixture(t)
	patientUser, doctor := ids.New(), ids.New()
	f.register(t, patientUser, "ada@example.org", "PATIENT", "en")
	data := slotFreed(doctor, patientUser, t0.Add(72*time.Hour))
	delete(data, "doctorName")
	delete(data, "timeZone")
	ev := f.event(t, "appointment.slot_freed", doctor, data)
	schematest.Validate(t, ev)
	f.handle(t, ev)
	mails := f.deliver(t)
	require.Len(t, mails, 1)
	assert.Equal(t, "A time is free: Thursday, 11 March 2027, 09:00", mails[0].Subject)
	assert.Contains(t, mails[0].Text, "(UTC)")
}

// An offer whose zone is no usable IANA zone ("Local", the host's own;
// "Factory", the offset of no place; one the database does not hold) is
// told as well, in UTC, never in the zone the service's host runs in.
func TestSlotOfferWithANonIANAZoneIsWrittenInUTC(t *testing.T) {
	f := newFixture(t)
	doctor := ids.New()
	for _, zone := range []string{"Local", "Factory", "localtime", "Mars/Olympus"} {
		patientUser := ids.New()
		f.register(t, patientUser, "ada@example.org", "PATIENT", "en")
		data := slotFreed(doctor, patientUser, t0.Add(72*time.Hour))
		data["timeZone"] = zone
		f.handle(t, f.event(t, "appointment.slot_freed", doctor, data))
		mails := f.deliver(t)
		require.NotEmpty(t, mails, zone)
		m := mails[len(mails)-1]
		assert.Equal(t, "A time is free with Dr. Lena Weber: Thursday, 11 March 2027, 09:00", m.Subject, zone)
		assert.Contains(t, m.Text, "time zone (UTC)", zone)
	}
}

// A new durable consumer receives the stream from its start: offers of
// slots long gone must not reach anyone.
func TestSlotOfferOfATimeThatHasBegunIsDropped(t *testing.T) {
	f := newFixture(t)
	patientUser, doctor := ids.New(), ids.New()
	f.register(t, patientUser, "ada@example.org", "PATIENT", "en")
	f.handle(t, f.event(t, "appointment.slot_freed", doctor, slotFreed(doctor, patientUser, t0.Add(-48*time.Hour))))
	f.handle(t, f.event(t, "appointment.slot_freed", doctor, slotFreed(doctor, patientUser, t0)))
	assert.Empty(t, f.inbox(t, patientUser).Items)
	assert.Empty(t, f.deliver(t))
}

// An offer's mail held back by a mail outage is pointless once the slot
// has begun: it expires then.
func TestSlotOfferMailExpiresAtTheStart(t *testing.T) {
	f := newFixture(t)
	admin := authn.Principal{UserID: ids.New(), Roles: []string{"ADMIN"}}
	patientUser, doctor := ids.New(), ids.New()
	f.register(t, patientUser, "ada@example.org", "PATIENT", "en")
	start := t0.Add(3 * time.Hour)
	f.smtp.Down()
	f.handle(t, f.event(t, "appointment.slot_freed", doctor, slotFreed(doctor, patientUser, start)))
	f.deliver(t)

	f.clock.Set(start)
	f.smtp.Up()
	assert.Empty(t, f.deliver(t))
	failed, err := f.svc.Deliveries(f.ctx, admin, notice.DeliveryQuery{Status: notice.Failed, Limit: 10})
	require.NoError(t, err)
	require.Len(t, failed.Items, 1)
	assert.Equal(t, notice.SlotOffered, failed.Items[0].Kind)
	assert.Contains(t, failed.Items[0].LastError, "expired")
}

func TestMalformedSlotOffersAreDeadLettered(t *testing.T) {
	f := newFixture(t)
	patientUser, doctor := ids.New(), ids.New()
	with := func(k string, v any) map[string]any {
		d := slotFreed(doctor, patientUser, t0.Add(72*time.Hour))
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
		return d
	}
	for name, data := range map[string]map[string]any{
		"no patient":             with("offeredToPatientUserId", nil),
		"patient not an id":      with("offeredToPatientUserId", "x\x00"),
		"no start":               with("start", nil),
		"doctor not an id":       with("doctorId", "nobody"),
		"doctor name too long":   with("doctorName", strings.Repeat("W", 201)),
		"doctor name with a NUL": with("doctorName", "Dr.\x00Weber"),
	} {
		err := f.svc.HandleEvent(f.ctx, f.event(t, "appointment.slot_freed", doctor, data))
		assert.ErrorIs(t, err, service.ErrMalformed, name)
	}
	assert.Empty(t, f.inbox(t, patientUser).Items)
}

// The dead-letter stream keeps its letters without an age limit, and a
// replay whose removal failed leaves the letter in place "for the inbox to
// absorb" (shared/broker/nats.go). A slot offer, which has no version or
// status to check, replayed again after inbox.Retention, is recorded until
// its slot's start and not offered twice.
func TestASlotOfferReplayedAfterTheInboxForgotItIsNotOfferedTwice(t *testing.T) {
	f := newFixture(t)
	doctor, patient := ids.New(), ids.New()
	f.register(t, patient, "waiting@example.org", "PATIENT", "en")
	ev := f.event(t, "appointment.slot_freed", doctor, slotFreed(doctor, patient, t0.Add(60*24*time.Hour)))
	f.handle(t, ev)
	require.Len(t, f.deliver(t), 1)

	f.clock.Set(t0.Add(inbox.Retention + 2*time.Hour))
	_, err := f.svc.Prune(f.ctx)
	require.NoError(t, err)
	f.handle(t, ev) // the dead letter left in place, replayed again

	assert.Equal(t, 1, len(f.deliver(t)), "a replayed offer is not sent again")
	assert.Equal(t, 1, len(f.inbox(t, patient).Page.Items), "nor put in the inbox again")
}

// A slot offer an older instance applied records only its inbox claim
// (also every offer applied before slot_offers existed): the purge of that
// claim records the offer first, so its dead letter, replayed once the
// claim is gone, offers the slot no second time.
func TestSlotOfferKnownOnlyByItsClaimIsNotOfferedTwice(t *testing.T) {
	f := newFixture(t)
	doctor, patient := ids.New(), ids.New()
	f.register(t, patient, "waiting@example.org", "PATIENT", "en")
	ev := f.event(t, "appointment.slot_freed", doctor, slotFreed(doctor, patient, t0.Add(60*24*time.Hour)))
	f.handle(t, ev)
	require.Len(t, f.deliver(t), 1)
	_, err := f.db.ExecContext(f.ctx, `DELETE FROM slot_offers`)
	require.NoError(t, err)

	f.clock.Set(t0.Add(inbox.Retention + 2*time.Hour))
	_, err = f.svc.Prune(f.ctx)
	require.NoError(t, err)
	f.handle(t, ev) // the dead letter replayed
	assert.Len(t, f.deliver(t), 1, "the offer is not made again")
}
