package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/logging"
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

// offerCheckBudget bounds the wait for the doctor service's word on whether
// a freed time can still be booked, well within the peer client's own
// timeout: the change that frees it must stay fast while that service is
// slow or down, and without an answer by then the time is offered anyway.
const offerCheckBudget = 500 * time.Millisecond

// offerOf describes the time prev held, freed by a change to next, for the
// doctor's waitlist; nil when the time has already begun or the doctor
// service answers f that nobody can book it (bookable). An entry waits for
// its day as its join read it in the doctor's zone of then, and the offer is
// written in that zone; one stored before the day's bounds were kept waits
// for the day read in prev's stored zone and is written in next's, the
// doctor's zone as last known. The patient who held the time is not offered
// it back: they gave it up, or the clinic took it and rebooks them itself.
// The entry that gets it leaves the list on the service's own account: its
// patient's trail does not name who freed the slot.
func (s *service) offerOf(ctx context.Context, prev, next appointment.Appointment, f *freedTime) *Offer {
	if !prev.Start.After(s.clock.Now()) || !s.bookable(ctx, f, prev) {
		return nil
	}
	loc, err := time.LoadLocation(prev.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	start, end, doctor, now := prev.Start.UTC(), prev.End.UTC(), prev.DoctorID, s.now()
	return &Offer{DoctorID: doctor, Start: start, Day: civil.Of(start.In(loc)).String(), PatientID: prev.PatientID,
		Event: func(e appointment.WaitlistEntry) (events.Event, error) {
			zone := e.TimeZone
			if zone == "" {
				zone = next.TimeZone
			}
			ev, err := events.New(TypeSlotFreed, EventVersion, doctor, SlotFreedData{DoctorID: doctor, DoctorName: prev.DoctorName,
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

// freedTime is a request's question to the doctor service whether the
// time its change frees can be booked again (bookable). It is put once per
// request, even when the change runs again after losing a write race
// (changeUnconditionally), so that the request neither waits for the answer
// again nor warns twice; a reschedule puts it early, with its new time's.
type freedTime struct {
	key      freedKey
	answer   <-chan slotAnswer // the question put, until it is answered
	budget   context.Context
	cancel   context.CancelFunc
	verdict  bool
	answered bool
}

type freedKey struct {
	doctorID   string
	start, end int64
}

// close ends a question still put.
func (f *freedTime) close() {
	if f.cancel != nil {
		f.cancel()
	}
	f.answer, f.cancel = nil, nil
}

// askFreed puts f's question about prev's time, unless it is put already,
// bounded by offerCheckBudget from now.
func (s *service) askFreed(ctx context.Context, f *freedTime, prev appointment.Appointment) {
	key := freedKey{prev.DoctorID, prev.Start.UnixNano(), prev.End.UnixNano()}
	if key == f.key && (f.answered || f.answer != nil) {
		return
	}
	f.close()
	f.key, f.answered = key, false
	f.budget, f.cancel = context.WithTimeout(ctx, offerCheckBudget)
	f.answer = s.checkSlot(f.budget, prev.DoctorID, prev.Start, prev.End)
}

// bookable reports whether the time prev held can be booked again, as the
// doctor service answers f's question within offerCheckBudget: not when the
// doctor is inactive or unknown, their record unusable, or the time off
// their grid (a booking stranded by a deactivation or new hours, which the
// clinic now cancels), so that no waiting patient's entry is spent on a
// slot whose booking would be refused. When the doctor service cannot
// answer it reports true: a time freed by a cancellation is nearly always
// bookable, and an offer lost would hurt more than one that leads to a
// refusal.
func (s *service) bookable(ctx context.Context, f *freedTime, prev appointment.Appointment) bool {
	s.askFreed(ctx, f, prev)
	if f.answered {
		return f.verdict
	}
	var answer slotAnswer
	select {
	case answer = <-f.answer:
	case <-f.budget.Done():
		// Bounded here too, whether or not the port heeds its context.
		answer.err = f.budget.Err()
	}
	f.close()
	switch {
	case ctx.Err() != nil:
		// The caller is gone: nothing will be written, nor offered.
		return false
	case errors.Is(answer.err, ErrUnknownDoctor), domainerr.KindOf(answer.err) == domainerr.Conflict:
		f.verdict = false
	case answer.err != nil:
		// Ids only: the waiting patients and the visit's times stay out.
		_ = level.Warn(logging.FromContext(ctx, s.opts.Logger)).Log("msg", "freed slot not checked: the doctor service did not answer; it goes to the first patient waiting, if any",
			"appointmentId", prev.ID, "peer", "doctor", "timeoutMs", offerCheckBudget.Milliseconds(),
			"err", fmt.Errorf("check freed slot: %w", answer.err))
		f.verdict = true
	default:
		f.verdict = answer.check.Doctor.Active && answer.check.OnGrid
	}
	f.answered = true
	return f.verdict
}

// frees reports whether the change from prev to next frees prev's time: it
// leaves it, or moves to a time that does not overlap it.
func frees(prev, next appointment.Appointment) bool {
	moved := next.Status.Occupies() && !(next.Start.Before(prev.End) && next.End.After(prev.Start))
	return prev.Status.Occupies() && (!next.Status.Occupies() || moved)
}

// update stores next, actor's action on prev, with its audit event; when
// its change freed prev's time, the doctor's waitlist is offered it in the
// same transaction. A reschedule takes a new time as a booking does: the
// patient must be free then, unless an administrator moves it. f is the
// request's question of whether the freed time can be booked again.
func (s *service) update(ctx context.Context, actor authn.Principal, action appointment.Action, prev, next appointment.Appointment, ev events.Event,
	f *freedTime) error {
	audit := s.event(ctx, actor, action, next, appointment.OutcomeAllowed)
	var offer *Offer
	if frees(prev, next) {
		offer = s.offerOf(ctx, prev, next, f)
	}
	if action == appointment.ActionReschedule {
		return s.repo.Reschedule(ctx, next, prev.Version, RescheduleOptions{Audit: audit, Offer: offer, NoPatientOverlap: !isAdmin(actor)}, ev)
	}
	if offer != nil {
		return s.repo.UpdateAndOffer(ctx, next, prev.Version, audit, *offer, ev)
	}
	return s.repo.Update(ctx, next, prev.Version, audit, ev)
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
		// UTC's day would be another day than the one the patient sees in
		// the doctor's slots, and waiting for it would be offered the wrong
		// times.
		return appointment.WaitlistEntry{}, errZoneUnusable
	}
	switch now := s.clock.Now(); {
	case day.Before(civil.Of(now.In(loc))):
		return appointment.WaitlistEntry{}, domainerr.Field("date", "must be today or later in the doctor's time zone")
	case day.In(loc).After(now.Add(appointment.BookingWindow)):
		// No booking starts later, so no slot of the day is ever freed.
		return appointment.WaitlistEntry{}, domainerr.Field("date", "must begin at most 365 days ahead in the doctor's time zone")
	}
	pat, err := s.bookingPatient(ctx, actor, "")
	if err != nil {
		return appointment.WaitlistEntry{}, err
	}
	// The day's bounds in the doctor's zone of now, as the patient sees
	// the slots: a later change of zone does not move the day waited for.
	e := appointment.WaitlistEntry{ID: s.newID(), DoctorID: doctorID, Day: day.String(), PatientID: pat.ID,
		PatientUserID: actor.UserID, CreatedAt: s.now(), DayFrom: day.In(loc).UTC(), DayUntil: day.AddDays(1).In(loc).UTC(),
		TimeZone: loc.String()}
	audit := s.auditEvent(ctx, actor, appointment.ActionJoin, appointment.ResourceWaitlist, e.PatientID, e.ID, appointment.OutcomeAllowed)
	since := WaitsPassedBefore(s.clock.Now())
	err = s.repo.JoinWaitlist(ctx, e, PatientSeen{Version: pat.Version}, since, audit)
	var inactive *PatientInactiveError
	if errors.As(err, &inactive) && pat.Version > 0 {
		// Recorded inactive at a version the answer had not reached: a
		// deactivation applied since, or a version the patient service
		// never gave. Asked again now that the row was read, it has given
		// every genuine version recorded.
		again, aerr := s.bookingPatient(ctx, actor, "")
		if aerr != nil {
			return appointment.WaitlistEntry{}, aerr
		}
		seen := PatientSeen{Version: again.Version}
		if again.Version > 0 && inactive.Version > again.Version {
			seen.Disowned = inactive.Version
		}
		err = s.repo.JoinWaitlist(ctx, e, seen, since, audit)
	}
	if err != nil {
		if errors.Is(err, appointment.ErrPatientInactive) {
			// Deactivated since the patient service answered above.
			return appointment.WaitlistEntry{}, errInactivePatient()
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

// WaitlistEntry answers the entry a join's Location names, to whom the list
// shows it: its patient, while its day has not passed. The patient's own
// read leaves nothing on the trail, as their list does; anyone else gets
// the 404 of an entry that does not exist, on the patient's trail.
func (s *service) WaitlistEntry(ctx context.Context, actor authn.Principal, id string) (appointment.WaitlistEntry, error) {
	if err := authenticated(actor); err != nil {
		return appointment.WaitlistEntry{}, err
	}
	cid, ok := ids.Canonical(id)
	if !ok {
		return appointment.WaitlistEntry{}, domainerr.Field("id", "must be a UUID")
	}
	e, err := s.repo.WaitlistEntry(ctx, cid)
	if err != nil {
		return appointment.WaitlistEntry{}, err
	}
	if day, err := civil.Parse(e.Day); err == nil && day.Before(WaitsPassedBefore(s.clock.Now())) {
		// Over, as the list has it, and purged within the hour.
		return appointment.WaitlistEntry{}, appointment.ErrWaitlistNotFound
	}
	if !own(actor, e.PatientUserID) {
		return appointment.WaitlistEntry{}, s.refuse(ctx, s.auditEvent(ctx, actor, appointment.ActionRead, appointment.ResourceWaitlist,
			e.PatientID, e.ID, appointment.OutcomeDenied), appointment.ErrWaitlistNotFound)
	}
	return e, nil
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
