package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/langtag"
	"github.com/medisync/medisync/shared/page"
)

// refuseOnCreate reports the fields a caller may not set on a new profile:
// the server's, and userId and active for anyone but an administrator.
func refuseOnCreate(in DoctorInput, admin bool) error {
	var fe domainerr.FieldErrors
	in.refuseAll(&fe, "id")
	if !admin {
		if in.UserID != nil {
			fe.Add("userId", "may be set only by an administrator; your profile is linked to your account")
		}
		if in.Active != nil {
			fe.Add("active", "may be set only by an administrator")
		}
	}
	return fe.Err()
}

// refuseOnUpdate reports the restricted fields a caller changed but may
// not. A field sent back as it is stored is no change, so a profile read
// and written back whole is accepted.
func refuseOnUpdate(in DoctorInput, admin bool, cur profile.Doctor) error {
	var fe domainerr.FieldErrors
	in.refuseChanged(&fe, "id", cur.ID, cur.Version, cur.CreatedAt, cur.UpdatedAt)
	if !admin {
		if in.UserID != nil {
			if id, _ := ids.Canonical(*in.UserID); id != cur.UserID {
				fe.Add("userId", "may be changed only by an administrator; your profile is linked to your account")
			}
		}
		if in.Active != nil && *in.Active != cur.Active {
			fe.Add("active", "may be changed only by an administrator")
		}
		if in.LicenseNumber != nil && strings.TrimSpace(*in.LicenseNumber) != cur.LicenseNumber {
			fe.Add("licenseNumber", "may be changed only by an administrator")
		}
	}
	return fe.Err()
}

// relinks reports whether in changes or clears the account of a profile
// that is already linked to one. A userId that is not a UUID is left to
// validation.
func relinks(in DoctorInput, cur profile.Doctor) bool {
	if in.UserID == nil || cur.UserID == "" {
		return false
	}
	if *in.UserID == "" {
		return true
	}
	id, ok := ids.Canonical(*in.UserID)
	return ok && !strings.EqualFold(id, cur.UserID) // a link stored in another case is the same account
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
	var fe domainerr.FieldErrors
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
			if id, ok := ids.Canonical(*in.UserID); ok {
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

func (s *service) CreateDoctor(ctx context.Context, actor authn.Principal, in DoctorInput) (profile.Doctor, error) {
	if err := mayCreateDoctor(actor); err != nil {
		return profile.Doctor{}, err
	}
	admin := isAdmin(actor)
	if err := refuseOnCreate(in, admin); err != nil {
		return profile.Doctor{}, err
	}
	now := s.now()
	d := profile.Doctor{ID: s.newID(), Active: true, Version: 1, CreatedAt: now, UpdatedAt: now}
	if !admin {
		d.UserID = actor.UserID
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

func (s *service) MyDoctor(ctx context.Context, actor authn.Principal) (profile.Doctor, error) {
	if err := authenticated(actor); err != nil {
		return profile.Doctor{}, err
	}
	d, err := s.repo.GetDoctorByUser(ctx, actor.UserID)
	if errors.Is(err, profile.ErrDoctorNotFound) {
		return profile.Doctor{}, profile.ErrNoProfile
	}
	return d, err
}

func (s *service) GetDoctor(ctx context.Context, actor authn.Principal, id string) (profile.Doctor, error) {
	if err := authenticated(actor); err != nil {
		return profile.Doctor{}, err
	}
	return s.doctor(ctx, id)
}

// doctor loads the doctor of id, which must be a UUID (field "id").
func (s *service) doctor(ctx context.Context, id string) (profile.Doctor, error) {
	id, err := parseID("id", id)
	if err != nil {
		return profile.Doctor{}, err
	}
	return s.repo.GetDoctor(ctx, id)
}

func (s *service) UpdateDoctor(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in DoctorInput) (profile.Doctor, error) {
	if err := mayEditSomeDoctor(actor); err != nil {
		return profile.Doctor{}, err
	}
	cur, err := s.doctor(ctx, id)
	if err != nil {
		return profile.Doctor{}, err
	}
	if err := mayEdit(actor, cur); err != nil {
		return profile.Doctor{}, err
	}
	if ifMatch == 0 {
		return profile.Doctor{}, profile.ErrPreconditionRequired
	}
	// A stale version is answered before the fields are compared with the
	// current ones, which the client has not seen.
	if ifMatch != cur.Version {
		return profile.Doctor{}, domainerr.StaleFor(ifMatch, profile.ErrStale)
	}
	if err := refuseOnUpdate(in, isAdmin(actor), cur); err != nil {
		return profile.Doctor{}, err
	}
	if relinks(in, cur) {
		return profile.Doctor{}, profile.ErrUserLinked
	}
	d := cur
	in.apply(&d)
	if err := s.validate(ctx, &d, in); err != nil {
		return profile.Doctor{}, err
	}
	if err := mayStrand(actor, in.StrandBookings); err != nil {
		return profile.Doctor{}, err
	}
	if (d.Active != cur.Active || d.TimeZone != cur.TimeZone) && !in.StrandBookings {
		if err := s.refuseRegrid(ctx, cur, d); err != nil {
			return profile.Doctor{}, err
		}
	}
	d.UpdatedAt = s.now()
	return s.repo.UpdateDoctor(ctx, d, ifMatch)
}

// refuseRegrid refuses a change of the doctor from cur to next, in zone or
// state, that would take future bookings off the grid. An inactive doctor
// has none to lose.
func (s *service) refuseRegrid(ctx context.Context, cur, next profile.Doctor) error {
	if !cur.Active {
		return nil
	}
	a, err := s.repo.GetAvailability(ctx, cur.ID)
	if err != nil {
		return err
	}
	before, err := gridOf(cur, a)
	if errors.Is(err, profile.ErrZoneUnusable) {
		// The zone being replaced does not load, so the old slots are
		// unknown: every booking counts as on them, and the change is held
		// to whether the new hours keep it. This is how such a profile is
		// repaired.
		before, err = grid{active: cur.Active, a: a, unknown: true}, nil
	}
	if err != nil {
		return err
	}
	after := grid{}
	if next.Active {
		if after, err = gridOf(next, a); err != nil {
			return err
		}
	}
	return s.refuseStranding(ctx, cur.ID, before, after)
}

func (s *service) DeactivateDoctor(ctx context.Context, actor authn.Principal, id string, strandBookings bool) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	id, err := parseID("id", id)
	if err != nil {
		return err
	}
	if !strandBookings {
		cur, err := s.repo.GetDoctor(ctx, id)
		if err != nil {
			return err
		}
		off := cur
		off.Active = false
		if err := s.refuseRegrid(ctx, cur, off); err != nil {
			return err
		}
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
		cur.UpdatedAt = s.now()
		_, err = s.repo.UpdateDoctor(ctx, cur, cur.Version)
		if !errors.Is(err, profile.ErrStale) || attempt == 5 {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("deactivate doctor: %w", err)
		}
	}
}

func (s *service) SearchDoctors(ctx context.Context, actor authn.Principal, in SearchInput) (page.Page[profile.Doctor], error) {
	if err := authenticated(actor); err != nil {
		return page.Page[profile.Doctor]{}, err
	}
	var (
		q  Query
		fe domainerr.FieldErrors
	)
	limit, err := limitOr(in.Limit)
	if err != nil {
		return page.Page[profile.Doctor]{}, err
	}
	q.Limit = limit + 1
	if in.Specialization != "" {
		id, ok := ids.Canonical(in.Specialization)
		if !ok {
			fe.Add("specialization", "must be a UUID")
		}
		q.SpecializationID = id
	}
	q.NamePrefixes = profile.NamePrefixes(in.Q)
	switch {
	case utf8.RuneCountInString(in.Q) > profile.MaxSearchLength:
		fe.Add("q", fmt.Sprintf("must be at most %d characters", profile.MaxSearchLength))
	case profile.HasControl(in.Q):
		fe.Add("q", "must be UTF-8 text without control characters")
	case len(q.NamePrefixes) > profile.MaxSearchWords:
		fe.Add("q", fmt.Sprintf("must hold at most %d words", profile.MaxSearchWords))
	}
	if in.Language != "" {
		lang, ok := langtag.Canonical(in.Language)
		if !ok {
			fe.Add("language", "must be a language tag such as en, fr or pt-BR")
		}
		q.Language = lang
	}
	if in.AvailableOn != "" {
		d, err := civil.Parse(in.AvailableOn)
		if err != nil {
			fe.Add("availableOn", err.Error())
		}
		q.AvailableOn = &d
	}
	if in.Cursor != "" {
		var c Cursor
		if err := page.DecodeCursor(in.Cursor, &c); err != nil {
			return page.Page[profile.Doctor]{}, err
		}
		// The id is compared with stored ids: only a canonical one can match,
		// and MySQL refuses comparisons of other characters. The names are
		// compared too, and PostgreSQL refuses NUL and invalid UTF-8.
		if _, ok := ids.Canonical(c.ID); !ok || profile.HasControl(c.LastName) || profile.HasControl(c.FirstName) {
			return page.Page[profile.Doctor]{}, page.ErrCursor
		}
		q.After = &c
	}
	if err := fe.Err(); err != nil {
		return page.Page[profile.Doctor]{}, err
	}
	items, err := s.repo.SearchDoctors(ctx, q)
	if err != nil {
		return page.Page[profile.Doctor]{}, err
	}
	out := page.Page[profile.Doctor]{Items: items}
	if len(items) > limit {
		out.Items = items[:limit]
		last := out.Items[limit-1]
		out.NextCursor = page.EncodeCursor(Cursor{LastName: last.LastName, FirstName: last.FirstName, ID: last.ID})
	}
	return out, nil
}
