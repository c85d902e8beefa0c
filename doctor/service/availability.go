package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

// ErrBookingsUnavailable answers a slots request while the TakenSlots port
// cannot tell what is booked: offering every slot could double-book.
var ErrBookingsUnavailable = domainerr.New(domainerr.Unavailable, "booked times cannot be read now; try again shortly")

func (s *service) GetAvailability(ctx context.Context, actor authn.Principal, doctorID string) (AvailabilityView, error) {
	if err := authenticated(actor); err != nil {
		return AvailabilityView{}, err
	}
	d, err := s.doctor(ctx, doctorID)
	if err != nil {
		return AvailabilityView{}, err
	}
	a, err := s.repo.GetAvailability(ctx, d.ID)
	if err != nil {
		return AvailabilityView{}, err
	}
	return AvailabilityView{Availability: a, TimeZone: d.TimeZone}, nil
}

func (s *service) ReplaceAvailability(ctx context.Context, actor authn.Principal, doctorID string, ifMatch int64, in AvailabilityInput) (AvailabilityView, error) {
	if err := mayEditSomeDoctor(actor); err != nil {
		return AvailabilityView{}, err
	}
	d, err := s.doctor(ctx, doctorID)
	if err != nil {
		return AvailabilityView{}, err
	}
	doctorID = d.ID
	if err := mayEdit(actor, d); err != nil {
		return AvailabilityView{}, err
	}
	if ifMatch == 0 {
		return AvailabilityView{}, profile.ErrPreconditionRequired
	}
	cur, err := s.repo.GetAvailability(ctx, doctorID)
	if err != nil {
		return AvailabilityView{}, err
	}
	// The tag of the zone tells a client that read the hours in another
	// zone, which the version does not.
	if ifMatch != cur.Version || (in.ReadZoneTag != nil && *in.ReadZoneTag != ZoneTag(d.TimeZone)) {
		return AvailabilityView{}, domainerr.StaleFor(ifMatch, profile.ErrStale)
	}
	// What GET shows besides the writable fields may come back unchanged.
	var fe domainerr.FieldErrors
	in.refuseChanged(&fe, "doctorId", doctorID, cur.Version, time.Time{}, cur.UpdatedAt)
	if in.TimeZone != nil && *in.TimeZone != d.TimeZone {
		fe.Add("timeZone", "is the doctor's; change it on the profile")
	}
	a, err := in.Parse(doctorID, d.AppointmentMinutes)
	var invalid domainerr.FieldErrors
	switch {
	case errors.As(err, &invalid):
		fe = append(fe, invalid...)
	case err != nil:
		return AvailabilityView{}, err
	}
	if err := fe.Err(); err != nil {
		return AvailabilityView{}, err
	}
	if err := mayStrand(actor, in.StrandBookings); err != nil {
		return AvailabilityView{}, err
	}
	if d.Active && !in.StrandBookings {
		before, err := gridOf(d, cur)
		if err != nil {
			return AvailabilityView{}, err
		}
		after := before
		after.a = a
		if err := s.refuseStranding(ctx, doctorID, before, after); err != nil {
			return AvailabilityView{}, err
		}
	}
	a.UpdatedAt = s.now()
	stored, err := s.repo.ReplaceAvailability(ctx, a, ifMatch)
	if err != nil {
		return AvailabilityView{}, err
	}
	return AvailabilityView{Availability: stored, TimeZone: d.TimeZone}, nil
}

func (s *service) Slots(ctx context.Context, actor authn.Principal, doctorID, fromS, toS string) (SlotList, error) {
	if err := authenticated(actor); err != nil {
		return SlotList{}, err
	}
	var fe domainerr.FieldErrors
	id, err := parseID("id", doctorID)
	if err != nil {
		fe.Add("id", "must be a UUID")
	}
	from, err := parseRequiredDate(fromS)
	if err != nil {
		fe.Add("from", err.Error())
	}
	to, err2 := parseRequiredDate(toS)
	if err2 != nil {
		fe.Add("to", err2.Error())
	}
	if err == nil && err2 == nil {
		switch {
		case from.Before(minSlotDate) || !to.Before(maxSlotDate):
			// The appointment service reads booked times in these years.
			fe.Add("from", "the range must lie between the years 1970 and 9000")
		case from.After(to):
			fe.Add("from", "must not be after to")
		case from.DaysUntil(to)+1 > MaxSlotDays:
			fe.Add("to", fmt.Sprintf("the range may cover at most %d days", MaxSlotDays))
		}
	}
	if err := fe.Err(); err != nil {
		return SlotList{}, err
	}
	d, err := s.repo.GetDoctor(ctx, id)
	if err != nil {
		return SlotList{}, err
	}
	out := SlotList{DoctorID: id, TimeZone: d.TimeZone, From: from, To: to, Slots: []schedule.Range{}}
	if !d.Active {
		return out, nil
	}
	loc, err := zoneOf(d)
	if err != nil {
		return SlotList{}, err
	}
	a, err := s.repo.GetAvailability(ctx, id)
	if err != nil {
		return SlotList{}, err
	}
	// The range's instants, with a day's margin for any offset.
	lo := from.In(loc).Add(-24 * time.Hour)
	hi := to.In(loc).Add(48 * time.Hour)
	now := s.clock.Now()
	last := now.Add(BookingWindow)
	if lo.After(last) {
		// Past the booking window: nothing is offered, and the appointment
		// service need not be asked.
		return out, nil
	}
	taken, err := s.taken.Taken(ctx, id, lo, hi)
	if err != nil {
		// The cause stays in the chain for the fault log; the client reads
		// the domain error's message.
		return SlotList{}, fmt.Errorf("taken slots of doctor %s: %w: %w", id, ErrBookingsUnavailable, err)
	}
	// A slot past the booking window could not be booked, and a booking
	// there would lie beyond what a change of the grid checks.
	slots := a.Slots(loc, from, to, now, taken)
	for len(slots) > 0 && slots[len(slots)-1].Start.After(last) {
		slots = slots[:len(slots)-1]
	}
	if len(slots) > 0 {
		out.Slots = slots
	}
	return out, nil
}

// The dates of a slots request lie in [minSlotDate, maxSlotDate): with
// the margins of the booked-times window, in any zone, inside the years
// 1970 to 9000 the appointment service reads.
var (
	minSlotDate = civil.MustParse("1970-01-03")
	maxSlotDate = civil.MustParse("8999-12-30")
)

func parseRequiredDate(s string) (civil.Date, error) {
	if s == "" {
		return civil.Date{}, errors.New("is required (YYYY-MM-DD)")
	}
	return civil.Parse(s)
}
