package service

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/problem"
)

// Paging bounds shared by every list.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	// MaxSlotDays is the longest range of dates the slots of which one
	// request may ask for.
	MaxSlotDays = 31
)

// Service is the doctor service's use cases. Every method reads the
// caller from the context (authn.Principal) and checks what they may do.
// Updates take the version the client read (If-Match) and fail with
// ErrPreconditionRequired when it is 0, ErrStale when it is no longer current.
type Service interface {
	CreateDoctor(ctx context.Context, in DoctorInput) (profile.Doctor, error)
	MyDoctor(ctx context.Context) (profile.Doctor, error)
	GetDoctor(ctx context.Context, id string) (profile.Doctor, error)
	UpdateDoctor(ctx context.Context, id string, ifMatch int64, in DoctorInput) (profile.Doctor, error)
	DeactivateDoctor(ctx context.Context, id string) error
	SearchDoctors(ctx context.Context, in SearchInput) (DoctorPage, error)

	ListSpecializations(ctx context.Context, limit, cursor string) (SpecializationPage, error)
	GetSpecialization(ctx context.Context, id string) (profile.Specialization, error)
	CreateSpecialization(ctx context.Context, in SpecializationInput) (profile.Specialization, error)
	UpdateSpecialization(ctx context.Context, id string, ifMatch int64, in SpecializationInput) (profile.Specialization, error)
	DeleteSpecialization(ctx context.Context, id string) error

	GetAvailability(ctx context.Context, doctorID string) (AvailabilityView, error)
	ReplaceAvailability(ctx context.Context, doctorID string, ifMatch int64, in schedule.Input) (AvailabilityView, error)
	Slots(ctx context.Context, doctorID, from, to string) (SlotList, error)
}

// DoctorInput is a doctor as a client writes it. The pointer fields are the
// ones only some callers may set; nil means the client left them out.
type DoctorInput struct {
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
	Version            *int64
}

// SearchInput holds the query parameters of a doctor search, unparsed.
type SearchInput struct {
	Specialization string
	Q              string
	Language       string
	AvailableOn    string
	Limit          string
	Cursor         string
}

// DoctorPage is one page of a search.
type DoctorPage struct {
	Items      []profile.Doctor
	NextCursor string
}

// SpecializationInput is a specialization as a client writes it.
type SpecializationInput struct {
	Name        string
	Description string
}

// SpecializationPage is one page of the catalog.
type SpecializationPage struct {
	Items      []profile.Specialization
	NextCursor string
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
	From     schedule.Date
	To       schedule.Date
	Slots    []schedule.Range
}

type service struct {
	repo  Repository
	taken TakenSlots
	clock Clock
	newID func() string
}

// New returns the service. newID makes resource IDs (UUID v7).
func New(repo Repository, taken TakenSlots, clock Clock, newID func() string) Service {
	return &service{repo: repo, taken: taken, clock: clock, newID: newID}
}

// caller returns the authenticated principal; without one the request is
// unauthenticated (the HTTP layer normally refuses it earlier).
func caller(ctx context.Context) (authn.Principal, error) {
	p, ok := authn.FromContext(ctx)
	if !ok || p.UserID == "" {
		return authn.Principal{}, problem.Unauthorized("a bearer token is required")
	}
	return p, nil
}

func isAdmin(p authn.Principal) bool { return p.Has(authn.RoleAdmin) }

func errAdminOnly() error { return problem.Forbidden("only an administrator may do this") }

func errNotYours() error {
	return problem.Forbidden("a doctor may change only their own profile and availability")
}

func errNoCreation() error {
	return problem.Forbidden("only an administrator or a doctor may create a doctor profile")
}

// mayEdit checks that p may change doctor d: an administrator, or the
// doctor whose profile it is.
func mayEdit(p authn.Principal, d profile.Doctor) error {
	if isAdmin(p) {
		return nil
	}
	if p.Has(authn.RoleDoctor) && d.UserID != "" && d.UserID == p.UserID {
		return nil
	}
	return errNotYours()
}

// mayEditSomeDoctor refuses callers who can edit no doctor at all, before
// anything is looked up.
func mayEditSomeDoctor(p authn.Principal) error {
	if p.HasAny(authn.RoleAdmin, authn.RoleDoctor) {
		return nil
	}
	return errNotYours()
}

func parseID(field, id string) (string, error) {
	c, ok := profile.CanonicalID(id)
	if !ok {
		return "", problem.FieldErrors{{Field: field, Message: "must be a UUID"}}
	}
	return c, nil
}

const readOnlyVersion = "is set by the server; send the version in If-Match to guard against lost updates"

// refuseFields reports the restricted fields a caller set but may not.
func refuseFields(in DoctorInput, admin, creating bool) error {
	var fe problem.FieldErrors
	if in.Version != nil {
		fe.Add("version", readOnlyVersion)
	}
	if !admin {
		if in.UserID != nil {
			fe.Add("userId", "may be set only by an administrator; your profile is linked to your account")
		}
		if in.Active != nil {
			fe.Add("active", "may be set only by an administrator")
		}
		if !creating && in.LicenseNumber != nil {
			fe.Add("licenseNumber", "may be changed only by an administrator")
		}
	}
	return fe.Err()
}

func (in DoctorInput) apply(d *profile.Doctor) {
	d.FirstName = in.FirstName
	d.LastName = in.LastName
	d.Email = in.Email
	d.Phone = in.Phone
	d.SpecializationIDs = in.SpecializationIDs
	d.Bio = in.Bio
	d.Languages = in.Languages
	d.TimeZone = in.TimeZone
	d.AppointmentMinutes = in.AppointmentMinutes
	if in.LicenseNumber != nil {
		d.LicenseNumber = *in.LicenseNumber
	}
	if in.Active != nil {
		d.Active = *in.Active
	}
}

// validate normalizes d and checks its fields, the user link and that the
// specializations exist.
func (s *service) validate(ctx context.Context, d *profile.Doctor, in DoctorInput) error {
	var fe problem.FieldErrors
	if err := d.Normalize(); err != nil {
		if !errors.As(err, &fe) {
			return err
		}
	}
	if in.UserID != nil {
		switch {
		case *in.UserID == "":
			d.UserID = ""
		default:
			if id, ok := profile.CanonicalID(*in.UserID); ok {
				d.UserID = id
			} else {
				fe.Add("userId", "must be a UUID")
			}
		}
	}
	if len(fe) == 0 && len(d.SpecializationIDs) > 0 {
		missing, err := s.repo.MissingSpecializations(ctx, d.SpecializationIDs)
		if err != nil {
			return fmt.Errorf("check specializations: %w", err)
		}
		for _, id := range missing {
			for i, have := range d.SpecializationIDs {
				if have == id {
					fe.Add(fmt.Sprintf("specializationIds[%d]", i), "no specialization with this id")
				}
			}
		}
	}
	return fe.Err()
}

func (s *service) CreateDoctor(ctx context.Context, in DoctorInput) (profile.Doctor, error) {
	p, err := caller(ctx)
	if err != nil {
		return profile.Doctor{}, err
	}
	admin := isAdmin(p)
	if !admin && !p.Has(authn.RoleDoctor) {
		return profile.Doctor{}, errNoCreation()
	}
	if err := refuseFields(in, admin, true); err != nil {
		return profile.Doctor{}, err
	}
	now := s.clock.Now().UTC()
	d := profile.Doctor{ID: s.newID(), Active: true, Version: 1, CreatedAt: now, UpdatedAt: now}
	if !admin {
		d.UserID = p.UserID
	}
	in.apply(&d)
	if in.LicenseNumber == nil {
		d.LicenseNumber = ""
	}
	if err := s.validate(ctx, &d, in); err != nil {
		return profile.Doctor{}, err
	}
	a := schedule.Default(d.ID, d.AppointmentMinutes)
	a.Version, a.UpdatedAt = 1, now
	if err := s.repo.CreateDoctor(ctx, d, a); err != nil {
		return profile.Doctor{}, err
	}
	return s.repo.GetDoctor(ctx, d.ID)
}

func (s *service) MyDoctor(ctx context.Context) (profile.Doctor, error) {
	p, err := caller(ctx)
	if err != nil {
		return profile.Doctor{}, err
	}
	d, err := s.repo.GetDoctorByUser(ctx, p.UserID)
	if errors.Is(err, profile.ErrDoctorNotFound) {
		return profile.Doctor{}, profile.ErrNoProfile
	}
	return d, err
}

func (s *service) GetDoctor(ctx context.Context, id string) (profile.Doctor, error) {
	if _, err := caller(ctx); err != nil {
		return profile.Doctor{}, err
	}
	id, err := parseID("id", id)
	if err != nil {
		return profile.Doctor{}, err
	}
	return s.repo.GetDoctor(ctx, id)
}

func (s *service) UpdateDoctor(ctx context.Context, id string, ifMatch int64, in DoctorInput) (profile.Doctor, error) {
	p, err := caller(ctx)
	if err != nil {
		return profile.Doctor{}, err
	}
	if err := mayEditSomeDoctor(p); err != nil {
		return profile.Doctor{}, err
	}
	if id, err = parseID("id", id); err != nil {
		return profile.Doctor{}, err
	}
	cur, err := s.repo.GetDoctor(ctx, id)
	if err != nil {
		return profile.Doctor{}, err
	}
	if err := mayEdit(p, cur); err != nil {
		return profile.Doctor{}, err
	}
	admin := isAdmin(p)
	if err := refuseFields(in, admin, false); err != nil {
		return profile.Doctor{}, err
	}
	if ifMatch == 0 {
		return profile.Doctor{}, profile.ErrPreconditionRequired
	}
	if ifMatch != cur.Version {
		return profile.Doctor{}, profile.ErrStale
	}
	d := cur
	in.apply(&d)
	if err := s.validate(ctx, &d, in); err != nil {
		return profile.Doctor{}, err
	}
	d.UpdatedAt = s.clock.Now().UTC()
	return s.repo.UpdateDoctor(ctx, d, ifMatch)
}

func (s *service) DeactivateDoctor(ctx context.Context, id string) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if !isAdmin(p) {
		return errAdminOnly()
	}
	if id, err = parseID("id", id); err != nil {
		return err
	}
	// Someone may change the profile between the read and the write: read
	// it again a few times rather than overwrite their change.
	for attempt := 1; ; attempt++ {
		cur, err := s.repo.GetDoctor(ctx, id)
		if err != nil {
			return err
		}
		if !cur.Active {
			return nil
		}
		cur.Active = false
		cur.UpdatedAt = s.clock.Now().UTC()
		_, err = s.repo.UpdateDoctor(ctx, cur, cur.Version)
		if !errors.Is(err, profile.ErrStale) || attempt == 5 {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

func parseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, problem.FieldErrors{{Field: "limit", Message: fmt.Sprintf("must be an integer from 1 to %d", MaxLimit)}}
	}
	return n, nil
}

func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return problem.FieldErrors{{Field: "cursor", Message: "is not a cursor this service issued"}}
	}
	return nil
}

func (s *service) SearchDoctors(ctx context.Context, in SearchInput) (DoctorPage, error) {
	if _, err := caller(ctx); err != nil {
		return DoctorPage{}, err
	}
	var (
		q  Query
		fe problem.FieldErrors
	)
	limit, err := parseLimit(in.Limit)
	if err != nil {
		return DoctorPage{}, err
	}
	q.Limit = limit + 1
	if in.Specialization != "" {
		id, ok := profile.CanonicalID(in.Specialization)
		if !ok {
			fe.Add("specialization", "must be a UUID")
		}
		q.SpecializationID = id
	}
	if len(in.Q) > 200 {
		fe.Add("q", "must be at most 200 characters")
	}
	q.NamePrefixes = profile.NamePrefixes(in.Q)
	if in.Language != "" {
		lang, ok := profile.CanonicalLanguage(in.Language)
		if !ok {
			fe.Add("language", "must be a language tag such as en, fr or pt-BR")
		}
		q.Language = lang
	}
	if in.AvailableOn != "" {
		d, err := schedule.ParseDate(in.AvailableOn)
		if err != nil {
			fe.Add("availableOn", err.Error())
		}
		q.AvailableOn = &d
	}
	if in.Cursor != "" {
		var c Cursor
		if err := decodeCursor(in.Cursor, &c); err != nil {
			return DoctorPage{}, err
		}
		if _, ok := profile.CanonicalID(c.ID); !ok {
			fe.Add("cursor", "is not a cursor this service issued")
		}
		q.After = &c
	}
	if err := fe.Err(); err != nil {
		return DoctorPage{}, err
	}
	items, err := s.repo.SearchDoctors(ctx, q)
	if err != nil {
		return DoctorPage{}, err
	}
	page := DoctorPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		last := page.Items[limit-1]
		page.NextCursor = encodeCursor(Cursor{LastName: last.LastName, FirstName: last.FirstName, ID: last.ID})
	}
	return page, nil
}

func (s *service) ListSpecializations(ctx context.Context, limitS, cursor string) (SpecializationPage, error) {
	if _, err := caller(ctx); err != nil {
		return SpecializationPage{}, err
	}
	limit, err := parseLimit(limitS)
	if err != nil {
		return SpecializationPage{}, err
	}
	var after string
	if cursor != "" {
		if err := decodeCursor(cursor, &after); err != nil {
			return SpecializationPage{}, err
		}
	}
	items, err := s.repo.ListSpecializations(ctx, after, limit+1)
	if err != nil {
		return SpecializationPage{}, err
	}
	page := SpecializationPage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = encodeCursor(profile.NameKey(page.Items[limit-1].Name))
	}
	return page, nil
}

func (s *service) GetSpecialization(ctx context.Context, id string) (profile.Specialization, error) {
	if _, err := caller(ctx); err != nil {
		return profile.Specialization{}, err
	}
	id, err := parseID("id", id)
	if err != nil {
		return profile.Specialization{}, err
	}
	return s.repo.GetSpecialization(ctx, id)
}

func requireAdmin(ctx context.Context) error {
	p, err := caller(ctx)
	if err != nil {
		return err
	}
	if !isAdmin(p) {
		return errAdminOnly()
	}
	return nil
}

func (s *service) CreateSpecialization(ctx context.Context, in SpecializationInput) (profile.Specialization, error) {
	if err := requireAdmin(ctx); err != nil {
		return profile.Specialization{}, err
	}
	now := s.clock.Now().UTC()
	sp := profile.Specialization{ID: s.newID(), Name: in.Name, Description: in.Description, Version: 1, CreatedAt: now, UpdatedAt: now}
	if err := sp.Normalize(); err != nil {
		return profile.Specialization{}, err
	}
	if err := s.repo.CreateSpecialization(ctx, sp); err != nil {
		return profile.Specialization{}, err
	}
	return sp, nil
}

func (s *service) UpdateSpecialization(ctx context.Context, id string, ifMatch int64, in SpecializationInput) (profile.Specialization, error) {
	if err := requireAdmin(ctx); err != nil {
		return profile.Specialization{}, err
	}
	id, err := parseID("id", id)
	if err != nil {
		return profile.Specialization{}, err
	}
	if ifMatch == 0 {
		return profile.Specialization{}, profile.ErrPreconditionRequired
	}
	sp := profile.Specialization{ID: id, Name: in.Name, Description: in.Description, UpdatedAt: s.clock.Now().UTC()}
	if err := sp.Normalize(); err != nil {
		return profile.Specialization{}, err
	}
	return s.repo.UpdateSpecialization(ctx, sp, ifMatch)
}

func (s *service) DeleteSpecialization(ctx context.Context, id string) error {
	if err := requireAdmin(ctx); err != nil {
		return err
	}
	id, err := parseID("id", id)
	if err != nil {
		return err
	}
	return s.repo.DeleteSpecialization(ctx, id)
}

func (s *service) GetAvailability(ctx context.Context, doctorID string) (AvailabilityView, error) {
	if _, err := caller(ctx); err != nil {
		return AvailabilityView{}, err
	}
	doctorID, err := parseID("id", doctorID)
	if err != nil {
		return AvailabilityView{}, err
	}
	d, err := s.repo.GetDoctor(ctx, doctorID)
	if err != nil {
		return AvailabilityView{}, err
	}
	a, err := s.repo.GetAvailability(ctx, doctorID)
	if err != nil {
		return AvailabilityView{}, err
	}
	return AvailabilityView{Availability: a, TimeZone: d.TimeZone}, nil
}

func (s *service) ReplaceAvailability(ctx context.Context, doctorID string, ifMatch int64, in schedule.Input) (AvailabilityView, error) {
	p, err := caller(ctx)
	if err != nil {
		return AvailabilityView{}, err
	}
	if err := mayEditSomeDoctor(p); err != nil {
		return AvailabilityView{}, err
	}
	if doctorID, err = parseID("id", doctorID); err != nil {
		return AvailabilityView{}, err
	}
	d, err := s.repo.GetDoctor(ctx, doctorID)
	if err != nil {
		return AvailabilityView{}, err
	}
	if err := mayEdit(p, d); err != nil {
		return AvailabilityView{}, err
	}
	if ifMatch == 0 {
		return AvailabilityView{}, profile.ErrPreconditionRequired
	}
	a, err := in.Parse(doctorID, d.AppointmentMinutes)
	if err != nil {
		return AvailabilityView{}, err
	}
	a.UpdatedAt = s.clock.Now().UTC()
	stored, err := s.repo.ReplaceAvailability(ctx, a, ifMatch)
	if err != nil {
		return AvailabilityView{}, err
	}
	return AvailabilityView{Availability: stored, TimeZone: d.TimeZone}, nil
}

func (s *service) Slots(ctx context.Context, doctorID, fromS, toS string) (SlotList, error) {
	if _, err := caller(ctx); err != nil {
		return SlotList{}, err
	}
	var fe problem.FieldErrors
	id, ok := profile.CanonicalID(doctorID)
	if !ok {
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
	loc, err := profile.LoadZone(d.TimeZone)
	if err != nil {
		return SlotList{}, fmt.Errorf("doctor %s time zone %q: %w", id, d.TimeZone, err)
	}
	a, err := s.repo.GetAvailability(ctx, id)
	if err != nil {
		return SlotList{}, err
	}
	// The range's instants, with a day's margin for any offset.
	lo := time.Date(from.Year, from.Month, from.Day, 0, 0, 0, 0, loc).Add(-24 * time.Hour)
	hi := time.Date(to.Year, to.Month, to.Day, 0, 0, 0, 0, loc).Add(48 * time.Hour)
	taken, err := s.taken.Taken(ctx, id, lo, hi)
	if err != nil {
		return SlotList{}, fmt.Errorf("taken slots of doctor %s: %w", id, err)
	}
	if slots := a.Slots(loc, from, to, s.clock.Now(), taken); slots != nil {
		out.Slots = slots
	}
	return out, nil
}

func parseRequiredDate(s string) (schedule.Date, error) {
	if s == "" {
		return schedule.Date{}, errors.New("is required (YYYY-MM-DD)")
	}
	return schedule.ParseDate(s)
}
