package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

// BookingWindow is how far ahead a slot may be booked: the appointment
// service refuses a start later than its now plus this
// (appointment.BookingWindow, which must stay equal), and Slots offers
// nothing later.
const BookingWindow = 365 * 24 * time.Hour

// BookingHorizon is how far ahead a change of a doctor's hours, zone or
// state looks for bookings it would take off the grid. It reaches past
// BookingWindow, which bounds every booking made since the appointment
// service enforced it, so that none of those escapes the check; the margin
// covers the two services' clocks disagreeing. Bookings made before may lie
// further ahead (the README gives the query that lists them).
const BookingHorizon = BookingWindow + 5*24*time.Hour

// takenWindow is the span of one TakenSlots call: the appointment service
// answers at most 40 days per call.
const takenWindow = 30 * 24 * time.Hour

// maxStrandedShown bounds the times a refusal lists.
const maxStrandedShown = 5

// StrandParam is the query parameter by which a request applies a change
// that takes booked appointments off the grid.
const StrandParam = "strandBookings"

// grid is what makes a span a slot of a doctor: their state, their zone
// and their availability.
type grid struct {
	active bool
	loc    *time.Location
	a      schedule.Availability
	// unknown marks a grid whose zone does not load: any span may have
	// been one of its slots.
	unknown bool
}

// has tells whether [start, end) is one slot of the grid: one of the slots
// of the local date of start or of its neighbours, for slots that cross
// midnight in the other direction of the offset.
func (g grid) has(start, end time.Time) bool {
	if !g.active {
		return false
	}
	if g.unknown {
		return true
	}
	day := civil.Of(start.In(g.loc))
	for _, slot := range g.a.Slots(g.loc, day.AddDays(-1), day.AddDays(1), time.Time{}, nil) {
		if slot.Start.Equal(start) && slot.End.Equal(end) {
			return true
		}
	}
	return false
}

// gridOf is the grid of doctor d with availability a.
func gridOf(d profile.Doctor, a schedule.Availability) (grid, error) {
	loc, err := zoneOf(d)
	if err != nil {
		return grid{}, err
	}
	return grid{active: d.Active, loc: loc, a: a}, nil
}

// zoneOf loads the stored time zone of d. One that does not load (stored
// before civil.LoadZone refused host-only names, or gone from the zone
// database) is profile.ErrZoneUnusable, a 409 the profile's owner can act
// on, rather than a server error.
func zoneOf(d profile.Doctor) (*time.Location, error) {
	loc, err := civil.LoadZone(d.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("doctor %s time zone %q: %w: %w", d.ID, d.TimeZone, profile.ErrZoneUnusable, err)
	}
	return loc, nil
}

// refuseStranding refuses (409) a change of the doctor's grid from before
// to after that would take future bookings off it: patients would keep a booked appointment at a time the doctor
// no longer works. Bookings already off the old grid are not this change's
// doing and are left out. A booking made between this check and the write
// is not seen; the window is one request long.
func (s *service) refuseStranding(ctx context.Context, doctorID string, before, after grid) error {
	// A doctor with no hours yet has no booking to lose by a change of
	// them; one who stops working loses every booking, on the grid or not.
	if !before.active || (after.active && before.empty()) {
		return nil
	}
	now := s.clock.Now()
	taken, err := s.bookedAhead(ctx, doctorID, now)
	if err != nil {
		return err
	}
	type span struct{ start, end int64 }
	seen := map[span]bool{}
	var stranded []time.Time
	for _, r := range taken {
		// A range crossing a window's edge comes twice.
		k := span{r.Start.UnixNano(), r.End.UnixNano()}
		if r.Start.Before(now) || seen[k] {
			continue
		}
		seen[k] = true
		if (!after.active || before.has(r.Start, r.End)) && !after.has(r.Start, r.End) {
			stranded = append(stranded, r.Start)
		}
	}
	if len(stranded) == 0 {
		return nil
	}
	slices.SortFunc(stranded, time.Time.Compare)
	shown := make([]string, 0, maxStrandedShown)
	for _, t := range stranded[:min(len(stranded), maxStrandedShown)] {
		shown = append(shown, t.UTC().Format(time.RFC3339))
	}
	list := strings.Join(shown, ", ")
	if more := len(stranded) - len(shown); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	what := "1 booked appointment"
	if len(stranded) > 1 {
		what = fmt.Sprintf("%d booked appointments", len(stranded))
	}
	return domainerr.New(domainerr.Conflict, fmt.Sprintf(
		"the change would leave %s outside the doctor's working hours, starting at %s; "+
			"rebook or cancel them first, or have an administrator repeat the request with %s=true to apply it and keep them as they are",
		what, list, StrandParam))
}

// errStrandAdminOnly refuses strandBookings to anyone but an administrator:
// the clinic, not the doctor, answers for the patients left outside the
// hours.
var errStrandAdminOnly = domainerr.New(domainerr.Forbidden,
	"only an administrator may apply a change that leaves bookings outside the working hours ("+StrandParam+")")

// mayStrand checks that actor may ask for strand.
func mayStrand(actor authn.Principal, strand bool) error {
	if strand && !isAdmin(actor) {
		return errStrandAdminOnly
	}
	return nil
}

// strandBudget bounds the whole look ahead, within the request's deadline,
// and strandCalls the calls to the appointment service at once.
const (
	strandBudget = 6 * time.Second
	strandCalls  = 4
)

// bookedAhead reads the doctor's booked times from now to BookingHorizon,
// window by window, a few windows at once, within strandBudget.
func (s *service) bookedAhead(ctx context.Context, doctorID string, now time.Time) ([]schedule.Range, error) {
	ctx, cancel := context.WithTimeout(ctx, strandBudget)
	defer cancel()
	end := now.Add(BookingHorizon)
	var froms []time.Time
	for from := now; from.Before(end); from = from.Add(takenWindow) {
		froms = append(froms, from)
	}
	results := make([][]schedule.Range, len(froms))
	errs := make([]error, len(froms))
	sem := make(chan struct{}, strandCalls)
	var wg sync.WaitGroup
	for i, from := range froms {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			to := from.Add(takenWindow)
			if to.After(end) {
				to = end
			}
			results[i], errs[i] = s.taken.Taken(ctx, doctorID, from, to)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("taken slots of doctor %s: %w: %w", doctorID, ErrBookingsUnavailable, err)
	}
	return slices.Concat(results...), nil
}

// empty tells whether the grid offers no slot at all: no weekly hours and
// no exception with hours.
func (g grid) empty() bool {
	for _, day := range g.a.Weekly {
		if len(day) > 0 {
			return false
		}
	}
	for _, e := range g.a.Exceptions {
		if len(e.Intervals) > 0 {
			return false
		}
	}
	return true
}

// ZoneTag is a short digest of a time zone name. The availability's entity
// tag carries it beside the version: slots are read in the doctor's zone,
// which the profile changes without touching the availability's version.
func ZoneTag(zone string) string {
	sum := sha256.Sum256([]byte(zone))
	return hex.EncodeToString(sum[:6])
}
