package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
)

// TypeSlotFreed is the event offering a freed slot to a waiting patient.
const TypeSlotFreed = "appointment.slot_freed"

// SlotFreedData is the data of appointment.slot_freed. The doctor's name
// and zone are there for the notification service to write the offer as it
// writes the appointment messages, in the doctor's local time.
type SlotFreedData struct {
	DoctorID               string    `json:"doctorId"`
	DoctorName             string    `json:"doctorName"`
	TimeZone               string    `json:"timeZone"`
	Start                  time.Time `json:"start"`
	End                    time.Time `json:"end"`
	OfferedToPatientID     string    `json:"offeredToPatientId"`
	OfferedToPatientUserID string    `json:"offeredToPatientUserId"`
}

// WaitsPassedBefore returns the first day whose waits may still be open at
// now: days before it have ended in every time zone. A wait's day is the
// doctor's, and no zone's day ends later than 14 hours after it ends in
// UTC, so the bound is UTC yesterday: conservative, a passed wait stays up
// to a day and a half longer, which is simpler than reading each entry's
// doctor's zone.
func WaitsPassedBefore(now time.Time) civil.Date { return civil.Of(now.UTC()).AddDays(-1) }

// WaitlistInput is a patient's wish for a slot of a doctor on a date.
type WaitlistInput struct {
	DoctorID string
	Date     string
}

// offerOf describes the time ap held, freed by a change, for the doctor's
// waitlist of that local day in zone, the doctor's; nil when the time has
// already begun. The entry that gets it leaves the list on the service's
// own account: its patient's trail does not name who freed the slot.
func (s *service) offerOf(ctx context.Context, ap appointment.Appointment, zone string) *Offer {
	if !ap.Start.After(s.clock.Now()) {
		return nil
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	start, end, doctor, now := ap.Start.UTC(), ap.End.UTC(), ap.DoctorID, s.now()
	return &Offer{DoctorID: doctor, Day: civil.Of(start.In(loc)).String(),
		Event: func(e appointment.WaitlistEntry) (events.Event, error) {
			ev, err := events.New(TypeSlotFreed, EventVersion, doctor, SlotFreedData{DoctorID: doctor, DoctorName: ap.DoctorName,
				TimeZone: zone, Start: start, End: end, OfferedToPatientID: e.PatientID, OfferedToPatientUserID: e.PatientUserID}, now)
			if err != nil {
				return events.Event{}, fmt.Errorf("event %s: %w", TypeSlotFreed, err)
			}
			return ev, nil
		},
		Audit: func(e appointment.WaitlistEntry) appointment.AuditEvent {
			ev := s.auditEvent(ctx, authn.Principal{}, appointment.ActionOffer, appointment.ResourceWaitlist, e.PatientID, e.ID,
				appointment.OutcomeAllowed)
			// No request id either: it is the canceller's, which the trail
			// of the patient offered the slot must not carry.
			ev.Role, ev.RequestID = RoleService, ""
			return ev
		}}
}

// update stores next, actor's action on prev, with its audit event; when
// its change freed prev's time, the doctor's waitlist is offered it in the
// same transaction.
func (s *service) update(ctx context.Context, actor authn.Principal, action appointment.Action, prev, next appointment.Appointment, ev events.Event) error {
	audit := s.event(ctx, actor, action, next, appointment.OutcomeAllowed)
	// A move to a time overlapping the old one frees no whole slot.
	moved := next.Status.Occupies() && !(next.Start.Before(prev.End) && next.End.After(prev.Start))
	freed := prev.Status.Occupies() && (!next.Status.Occupies() || moved)
	if freed && prev.Start.After(s.clock.Now()) {
		// Patients wait for the doctor's local day as it is now. A
		// reschedule's slot check has just read the doctor's zone into next.
		zone := next.TimeZone
		if action != appointment.ActionReschedule {
			zone = s.doctorZone(ctx, prev)
		}
		if o := s.offerOf(ctx, prev, zone); o != nil {
			return s.repo.UpdateAndOffer(ctx, next, prev.Version, audit, *o, ev)
		}
	}
	return s.repo.Update(ctx, next, prev.Version, audit, ev)
}

// zoneAsk bounds the look-up of a doctor's zone for the offer of a freed
// slot: the change goes through without it.
const zoneAsk = 500 * time.Millisecond

// doctorZone is the time zone of ap's doctor as the doctor service has it
// now, read before the write's transaction; the zone stored with ap when
// the service does not answer within zoneAsk or a quarter of what is left
// of ctx, so that a cancellation neither fails nor runs past its deadline
// while the doctor service is down.
func (s *service) doctorZone(ctx context.Context, ap appointment.Appointment) string {
	if s.doctors == nil {
		return ap.TimeZone
	}
	budget := zoneAsk
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)/4)
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	d, err := s.doctors.Get(ctx, ap.DoctorID)
	if err != nil || d.TimeZone == "" {
		return ap.TimeZone
	}
	return d.TimeZone
}

func (s *service) JoinWaitlist(ctx context.Context, actor authn.Principal, in WaitlistInput) (appointment.WaitlistEntry, error) {
	if err := authenticated(actor); err != nil {
		return appointment.WaitlistEntry{}, err
	}
	if !actor.Has(authn.RolePatient) {
		return appointment.WaitlistEntry{}, domainerr.New(domainerr.Forbidden, "only patients join a waitlist")
	}
	var fe domainerr.FieldErrors
	doctorID, ok := ids.Canonical(in.DoctorID)
	if !ok {
		fe.Add("doctorId", "must be a UUID")
	}
	day, err := civil.Parse(in.Date)
	switch {
	case err != nil:
		fe.Add("date", err.Error())
	case !inRange(day):
		fe.Add("date", timeRange)
	}
	if err := fe.Err(); err != nil {
		return appointment.WaitlistEntry{}, err
	}
	doc, err := s.doctors.Get(ctx, doctorID)
	switch {
	case errors.Is(err, ErrUnknownDoctor):
		return appointment.WaitlistEntry{}, domainerr.Field("doctorId", "no such doctor")
	case err != nil:
		return appointment.WaitlistEntry{}, fmt.Errorf("look up doctor: %w", err)
	case !doc.Active:
		return appointment.WaitlistEntry{}, domainerr.Field("doctorId", "the doctor does not take appointments")
	}
	loc, err := time.LoadLocation(doc.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	if day.Before(civil.Of(s.clock.Now().In(loc))) {
		return appointment.WaitlistEntry{}, domainerr.Field("date", "must be today or later in the doctor's time zone")
	}
	pat, err := s.bookingPatient(ctx, actor, "")
	if err != nil {
		return appointment.WaitlistEntry{}, err
	}
	e := appointment.WaitlistEntry{ID: s.newID(), DoctorID: doctorID, Day: day.String(), PatientID: pat.ID,
		PatientUserID: actor.UserID, CreatedAt: s.now()}
	audit := s.auditEvent(ctx, actor, appointment.ActionJoin, appointment.ResourceWaitlist, e.PatientID, e.ID, appointment.OutcomeAllowed)
	if err := s.repo.JoinWaitlist(ctx, e, WaitsPassedBefore(s.clock.Now()), audit); err != nil {
		if errors.Is(err, appointment.ErrPatientInactive) {
			// Deactivated since the patient service answered above.
			return appointment.WaitlistEntry{}, domainerr.Field("patientId", "the patient's record is inactive")
		}
		return appointment.WaitlistEntry{}, err
	}
	return e, nil
}

func (s *service) MyWaitlist(ctx context.Context, actor authn.Principal) ([]appointment.WaitlistEntry, error) {
	if err := authenticated(actor); err != nil {
		return nil, err
	}
	return s.repo.Waitlist(ctx, actor.UserID, WaitsPassedBefore(s.clock.Now()))
}

func (s *service) LeaveWaitlist(ctx context.Context, actor authn.Principal, id string) error {
	if err := authenticated(actor); err != nil {
		return err
	}
	cid, ok := ids.Canonical(id)
	if !ok {
		return domainerr.Field("id", "must be a UUID")
	}
	e, err := s.repo.WaitlistEntry(ctx, cid)
	if err != nil {
		return err
	}
	if !own(actor, e.PatientUserID) {
		// Another patient's entry: the 404 of one that does not exist, on
		// that patient's trail.
		return s.refuse(ctx, s.auditEvent(ctx, actor, appointment.ActionLeave, appointment.ResourceWaitlist, e.PatientID, e.ID,
			appointment.OutcomeDenied), appointment.ErrWaitlistNotFound)
	}
	audit := s.auditEvent(ctx, actor, appointment.ActionLeave, appointment.ResourceWaitlist, e.PatientID, e.ID, appointment.OutcomeAllowed)
	return s.repo.LeaveWaitlist(ctx, actor.UserID, cid, audit)
}
