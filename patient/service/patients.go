package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
)

// adminOnlyFields refuses userId and active from a caller who is not an
// administrator, unless they come back unchanged from cur (nil on create,
// where there is nothing to send back).
func adminOnlyFields(in NewPatient, cur *patient.Patient) domainerr.FieldErrors {
	var fe domainerr.FieldErrors
	if in.UserID != nil && (cur == nil || canonicalID(*in.UserID) != cur.UserID) {
		fe.Add("userId", "may be set by an administrator only")
	}
	if in.Active != nil && (cur == nil || *in.Active != cur.Active) {
		fe.Add("active", "may be set by an administrator only")
	}
	return fe
}

// relinks reports whether userID, sent on an update, changes or clears the
// account of a profile already linked to cur. Linking an unlinked profile
// is no relink, nor is the same account in another case (a link stored
// before ids were kept in lower case); a userId that is not a UUID is left
// to validation.
func relinks(userID *string, cur string) bool {
	if userID == nil || cur == "" {
		return false
	}
	id := canonicalID(*userID)
	return id != canonicalID(cur) && (id == "" || ids.Valid(id))
}

func (s *service) CreatePatient(ctx context.Context, actor authn.Principal, in NewPatient) (patient.Patient, error) {
	p := patient.Patient{Active: true, Version: 1}
	switch {
	case admin(actor):
		if in.UserID != nil {
			p.UserID = canonicalID(*in.UserID)
		}
		if in.Active != nil {
			p.Active = *in.Active
		}
	case actor.Has(authn.RolePatient):
		if fe := adminOnlyFields(in, nil); len(fe) > 0 {
			return patient.Patient{}, s.deny(ctx, actor, patient.ActionCreate, patient.ResourcePatient, "", "", fe)
		}
		p.UserID = actor.UserID
	default:
		return patient.Patient{}, s.deny(ctx, actor, patient.ActionCreate, patient.ResourcePatient, "", "", patient.ErrForbidden)
	}
	prof := in.Profile
	prof.Normalize()
	fe := prof.Validate(s.today())
	if p.UserID != "" && !ids.Valid(p.UserID) {
		fe.Add("userId", "must be a UUID")
	}
	if err := fe.Err(); err != nil {
		return patient.Patient{}, err
	}
	if p.UserID != "" {
		if _, err := s.patients.PatientByUserID(ctx, p.UserID); err == nil {
			return patient.Patient{}, patient.ErrProfileExists
		} else if !errors.Is(err, patient.ErrNotFound) {
			return patient.Patient{}, err
		}
	}
	now := s.now()
	p.ID, p.Profile, p.CreatedAt, p.UpdatedAt = s.newID(), prof, now, now
	ev := s.event(ctx, actor, patient.ActionCreate, patient.ResourcePatient, p.ID, "", patient.OutcomeAllowed)
	if err := s.patients.CreatePatient(ctx, p, ev); err != nil {
		return patient.Patient{}, err
	}
	return p, nil
}

func (s *service) MyPatient(ctx context.Context, actor authn.Principal) (patient.Patient, error) {
	p, err := s.patients.PatientByUserID(ctx, actor.UserID)
	if err != nil {
		return patient.Patient{}, err
	}
	// The link alone grants nothing: the caller gets what GetPatient gives
	// them for the same record, so one who holds no role that may read it
	// gets the 404 of a caller without a profile, and a denial on the trail.
	if !canRead(actor, p) {
		return patient.Patient{}, s.deny(ctx, actor, patient.ActionRead, patient.ResourcePatient, p.ID, "", refusal(actor, p))
	}
	if err := s.record(ctx, s.event(ctx, actor, patient.ActionRead, patient.ResourcePatient, p.ID, "", patient.OutcomeAllowed)); err != nil {
		return patient.Patient{}, err
	}
	return p, nil
}

func (s *service) GetPatient(ctx context.Context, actor authn.Principal, id string) (patient.Patient, error) {
	p, err := s.load(ctx, actor, id, patient.ActionRead, patient.ResourcePatient, "", canRead)
	if err != nil {
		return patient.Patient{}, err
	}
	if err := s.record(ctx, s.event(ctx, actor, patient.ActionRead, patient.ResourcePatient, p.ID, "", patient.OutcomeAllowed)); err != nil {
		return patient.Patient{}, err
	}
	return p, nil
}

func (s *service) UpdatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in PatientUpdate) (patient.Patient, error) {
	cur, err := s.load(ctx, actor, id, patient.ActionUpdate, patient.ResourcePatient, "", canUpdate)
	if err != nil {
		return patient.Patient{}, err
	}
	next := cur
	if admin(actor) {
		if in.UserID != nil {
			next.UserID = canonicalID(*in.UserID)
		}
		if in.Active != nil {
			next.Active = *in.Active
		}
	} else if fe := adminOnlyFields(in.NewPatient, &cur); len(fe) > 0 {
		return patient.Patient{}, s.deny(ctx, actor, patient.ActionUpdate, patient.ResourcePatient, cur.ID, "", fe)
	}
	if ifMatch == 0 {
		return patient.Patient{}, patient.ErrPreconditionRequired
	}
	if ifMatch != cur.Version {
		return patient.Patient{}, domainerr.StaleFor(ifMatch, patient.ErrStaleVersion)
	}
	if relinks(in.UserID, cur.UserID) {
		return patient.Patient{}, patient.ErrUserLinked
	}
	prof := in.Profile
	prof.Normalize()
	fe := prof.Validate(s.today())
	if next.UserID != "" && !ids.Valid(next.UserID) {
		fe.Add("userId", "must be a UUID")
	}
	if in.ID != nil && canonicalID(*in.ID) != cur.ID {
		fe.Add("id", serverSet)
	}
	sentBackVersion(&fe, in.Version, cur.Version)
	sentBackTime(&fe, "createdAt", in.CreatedAt, cur.CreatedAt)
	sentBackTime(&fe, "updatedAt", in.UpdatedAt, cur.UpdatedAt)
	if err := fe.Err(); err != nil {
		return patient.Patient{}, err
	}
	next.Profile, next.Version, next.UpdatedAt = prof, ifMatch+1, s.now()
	ev := s.event(ctx, actor, patient.ActionUpdate, patient.ResourcePatient, cur.ID, "", patient.OutcomeAllowed)
	// An administrator's change of active is the status change DELETE
	// makes, or its reversal: other services learn it the same way.
	out, err := statusEvents(cur, next, actor.UserID)
	if err != nil {
		return patient.Patient{}, err
	}
	if err := s.patients.UpdatePatient(ctx, next, ev, out...); err != nil {
		return patient.Patient{}, err
	}
	return next, nil
}

func (s *service) DeactivatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64) error {
	cur, err := s.load(ctx, actor, id, patient.ActionDelete, patient.ResourcePatient, "", canAdmin)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		if ifMatch != 0 && ifMatch != cur.Version {
			return domainerr.StaleFor(ifMatch, patient.ErrStaleVersion)
		}
		ev := s.event(ctx, actor, patient.ActionDelete, patient.ResourcePatient, cur.ID, "", patient.OutcomeAllowed)
		if !cur.Active {
			// Already inactive: the record stays as it is, and its
			// deactivation is announced again at its version, as one made
			// before the outbox existed never was. Consumers ignore a
			// version they have already applied.
			out, err := statusEvent(cur, actor.UserID, s.now())
			if err != nil {
				return err
			}
			return s.patients.AnnouncePatient(ctx, ev, out)
		}
		next := cur
		next.Active, next.Version, next.UpdatedAt = false, cur.Version+1, s.now()
		out, err := statusEvents(cur, next, actor.UserID)
		if err != nil {
			return err
		}
		err = s.patients.UpdatePatient(ctx, next, ev, out...)
		if !retryUnconditional(ifMatch, err, attempt) {
			return err
		}
		if cur, err = s.patients.PatientByID(ctx, id); err != nil {
			return fmt.Errorf("read the patient again: %w", err)
		}
	}
}

// unconditionalAttempts bounds the writes of a DELETE sent without
// If-Match: a record that changes under every one of them is answered 412.
const unconditionalAttempts = 5

// retryUnconditional reports whether a write that failed with err should be
// tried again on the record as it now is: only a write that another won
// between the read and the conditional update, and only for a request that
// named no version (ifMatch 0), which asked for no precondition and so must
// not get the 412 of one (docs/architecture.md, "HTTP conventions").
func retryUnconditional(ifMatch int64, err error, attempt int) bool {
	return ifMatch == 0 && errors.Is(err, patient.ErrStaleVersion) && attempt < unconditionalAttempts
}

func (s *service) SearchPatients(ctx context.Context, actor authn.Principal, q patient.SearchQuery) (page.Page[patient.Patient], error) {
	if !staff(actor) {
		return page.Page[patient.Patient]{}, s.deny(ctx, actor, patient.ActionSearch, patient.ResourcePatient, "", "", patient.ErrForbidden)
	}
	found, err := s.patients.SearchPatients(ctx, q)
	if err != nil {
		return page.Page[patient.Patient]{}, err
	}
	// The search itself, and for each patient it shows, an event on that
	// patient's trail: a page of results is a read of every record on it.
	evs := make([]patient.AuditEvent, 0, len(found.Items)+1)
	evs = append(evs, s.event(ctx, actor, patient.ActionSearch, patient.ResourcePatient, "", "", patient.OutcomeAllowed))
	for _, p := range found.Items {
		evs = append(evs, s.event(ctx, actor, patient.ActionSearch, patient.ResourcePatient, p.ID, "", patient.OutcomeAllowed))
	}
	if err := s.audit.AppendAudit(ctx, evs...); err != nil {
		return page.Page[patient.Patient]{}, fmt.Errorf("record audit events: %w", err)
	}
	return found, nil
}
