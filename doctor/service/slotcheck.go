package service

import (
	"context"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

// SlotCheck answers whether a span is one slot of a doctor's published
// availability, with the doctor it concerns.
type SlotCheck struct {
	Doctor profile.Doctor
	OnGrid bool
}

// CheckSlot tells whether [start, end) is a slot of the doctor's published
// availability, whether booked or not: it reads the availability grid only
// and never asks the TakenSlots port, so the booking side, which calls it
// and is itself the TakenSlots adapter, is never called back. Past slots
// count: whether a time is still bookable is the booking side's rule.
func (s *service) CheckSlot(ctx context.Context, actor authn.Principal, doctorID, startS, endS string) (SlotCheck, error) {
	if err := authenticated(actor); err != nil {
		return SlotCheck{}, err
	}
	var fe domainerr.FieldErrors
	id, err := parseID("id", doctorID)
	if err != nil {
		fe.Add("id", "must be a UUID")
	}
	start, errS := civil.ParseInstant(startS)
	if errS != nil {
		fe.Add("start", "must be an RFC 3339 instant")
	}
	end, errE := civil.ParseInstant(endS)
	if errE != nil {
		fe.Add("end", "must be an RFC 3339 instant")
	}
	if errS == nil && errE == nil && !end.After(start) {
		fe.Add("end", "must be after start")
	}
	if err := fe.Err(); err != nil {
		return SlotCheck{}, err
	}
	d, err := s.repo.GetDoctor(ctx, id)
	if err != nil {
		return SlotCheck{}, err
	}
	out := SlotCheck{Doctor: d}
	if !d.Active {
		return out, nil
	}
	a, err := s.repo.GetAvailability(ctx, id)
	if err != nil {
		return SlotCheck{}, err
	}
	g, err := gridOf(d, a)
	if err != nil {
		return SlotCheck{}, err
	}
	out.OnGrid = g.has(start, end)
	return out, nil
}
