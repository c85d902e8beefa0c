package service

import (
	"context"
	"time"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
)

// MaxSlotDays is the longest range of dates the slots of which one request
// may ask for.
const MaxSlotDays = 31

// Service is the doctor service's use cases. Every method takes the caller
// (actor) right after the context and checks what they may do. Updates take
// the version the client read (If-Match) and fail with
// ErrPreconditionRequired when it is 0, ErrStale when it is no longer current
// (domainerr.ErrWeakVersion for domainerr.WeakVersion, a weak tag), each
// after the caller's rights are checked.
type Service interface {
	CreateDoctor(ctx context.Context, actor authn.Principal, in DoctorInput) (profile.Doctor, error)
	MyDoctor(ctx context.Context, actor authn.Principal) (profile.Doctor, error)
	GetDoctor(ctx context.Context, actor authn.Principal, id string) (profile.Doctor, error)
	UpdateDoctor(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in DoctorInput) (profile.Doctor, error)
	// DeactivateDoctor refuses (409) to take future bookings off the grid
	// unless strandBookings.
	DeactivateDoctor(ctx context.Context, actor authn.Principal, id string, strandBookings bool) error
	SearchDoctors(ctx context.Context, actor authn.Principal, in SearchInput) (page.Page[profile.Doctor], error)

	ListSpecializations(ctx context.Context, actor authn.Principal, limit int, cursor string) (page.Page[profile.Specialization], error)
	GetSpecialization(ctx context.Context, actor authn.Principal, id string) (profile.Specialization, error)
	CreateSpecialization(ctx context.Context, actor authn.Principal, in SpecializationInput) (profile.Specialization, error)
	UpdateSpecialization(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in SpecializationInput) (profile.Specialization, error)
	DeleteSpecialization(ctx context.Context, actor authn.Principal, id string) error

	GetAvailability(ctx context.Context, actor authn.Principal, doctorID string) (AvailabilityView, error)
	ReplaceAvailability(ctx context.Context, actor authn.Principal, doctorID string, ifMatch int64, in AvailabilityInput) (AvailabilityView, error)
	Slots(ctx context.Context, actor authn.Principal, doctorID, from, to string) (SlotList, error)
	CheckSlot(ctx context.Context, actor authn.Principal, doctorID, start, end string) (SlotCheck, error)
}

// ServerFields are the fields of a resource the server manages. A client
// that sends back what it read may include them: they are ignored when equal
// to the current values and refused when changed. nil means left out.
type ServerFields struct {
	ID        *string
	Version   *int64
	CreatedAt *time.Time
	UpdatedAt *time.Time
}

// DoctorInput is a doctor as a client writes it. The pointer fields are the
// ones only some callers may change; nil means the client left them out.
type DoctorInput struct {
	ServerFields
	FirstName          string
	LastName           string
	Email              string
	Phone              string
	LicenseNumber      *string
	SpecializationIDs  []string
	Bio                string
	Languages          []string
	TimeZone           string
	AppointmentMinutes int
	UserID             *string
	Active             *bool
	// StrandBookings applies a change of zone or state that takes booked
	// appointments off the grid; it comes from the request, not the body.
	StrandBookings bool
}

// SearchInput holds the query parameters of a doctor search. Limit 0 is
// page.DefaultLimit; Cursor is the opaque cursor of the previous page.
type SearchInput struct {
	Specialization string
	Q              string
	Language       string
	AvailableOn    string
	Limit          int
	Cursor         string
}

// SpecializationInput is a specialization as a client writes it.
type SpecializationInput struct {
	ServerFields
	Name        string
	Description string
}

// AvailabilityInput is an availability as a client writes it. ID in
// ServerFields is the doctorId; TimeZone is the doctor's, shown with the
// availability and changed only on the profile.
type AvailabilityInput struct {
	schedule.Input
	ServerFields
	TimeZone *string
	// ReadZoneTag is the ZoneTag of the zone the client read with the
	// version (from If-Match); another than the doctor's is ErrStale. nil
	// when the caller read none, as in-process callers.
	ReadZoneTag *string
	// StrandBookings applies hours that take booked appointments off the
	// grid; it comes from the request, not the body.
	StrandBookings bool
}

// AvailabilityView is an availability with the time zone it is read in.
type AvailabilityView struct {
	Availability schedule.Availability
	TimeZone     string
}

// SlotList is the bookable slots of a doctor over a range of local dates.
type SlotList struct {
	DoctorID string
	TimeZone string
	From     civil.Date
	To       civil.Date
	Slots    []schedule.Range
}

type service struct {
	repo  Repository
	taken TakenSlots
	clock clock.Clock
	newID func() string
}

// New returns the service. newID makes resource IDs (ids.New in production).
func New(repo Repository, taken TakenSlots, clk clock.Clock, newID func() string) Service {
	return &service{repo: repo, taken: taken, clock: clk, newID: newID}
}

// now is the service's time at the precision both databases keep, so that
// what a write returns equals what a later read returns.
func (s *service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// parseID returns id in canonical form, or a field error naming field.
func parseID(field, id string) (string, error) {
	c, ok := ids.Canonical(id)
	if !ok {
		return "", domainerr.Field(field, "must be a UUID")
	}
	return c, nil
}

// limitOr returns limit, or page.DefaultLimit when it is 0.
func limitOr(limit int) (int, error) {
	switch {
	case limit == 0:
		return page.DefaultLimit, nil
	case limit < 0 || limit > page.MaxLimit:
		return 0, page.ErrLimit
	}
	return limit, nil
}

const (
	readOnlyID      = "must be the id of this resource; the server sets it"
	readOnlyVersion = "is set by the server; send the version in If-Match to guard against lost updates"
	readOnlyTime    = "is set by the server; send it as read or leave it out"
)

// refuseChanged reports the server-managed fields sent with a value other
// than the current one.
func (sf ServerFields) refuseChanged(fe *domainerr.FieldErrors, idField, id string, version int64, createdAt, updatedAt time.Time) {
	if sf.ID != nil {
		if c, ok := ids.Canonical(*sf.ID); !ok || c != id {
			fe.Add(idField, readOnlyID)
		}
	}
	if sf.Version != nil && *sf.Version != version {
		fe.Add("version", readOnlyVersion)
	}
	if sf.CreatedAt != nil && !sf.CreatedAt.Equal(createdAt) {
		fe.Add("createdAt", readOnlyTime)
	}
	if sf.UpdatedAt != nil && !sf.UpdatedAt.Equal(updatedAt) {
		fe.Add("updatedAt", readOnlyTime)
	}
}

// refuseAll reports every server-managed field sent on creation, when the
// resource has no values yet to compare with.
func (sf ServerFields) refuseAll(fe *domainerr.FieldErrors, idField string) {
	if sf.ID != nil {
		fe.Add(idField, readOnlyID)
	}
	if sf.Version != nil {
		fe.Add("version", readOnlyVersion)
	}
	if sf.CreatedAt != nil {
		fe.Add("createdAt", readOnlyTime)
	}
	if sf.UpdatedAt != nil {
		fe.Add("updatedAt", readOnlyTime)
	}
}
