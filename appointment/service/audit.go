package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/requestid"
)

// The audit trail of a patient's appointments and waitlist entries: every
// read by someone other than the patient, every write by anyone and every
// refusal leave an event. A write stores its event in its transaction; a
// read or a refusal records it (group commit in production) before it
// answers, so no data leaves before its event is stored.

// Errors of the audit trail.
var (
	ErrPatientNotFound = domainerr.New(domainerr.NotFound, "patient not found")
	ErrTrailForbidden  = domainerr.New(domainerr.Forbidden, "only the patient and administrators read a patient's audit trail")
)

// RoleService names the service itself in an event it makes on no one's
// behalf it may name: the offer of a freed slot to a waiting patient, who
// is not told who freed it.
const RoleService = "SERVICE"

// appendOne is the recorder without a batcher: each event in its own INSERT.
type appendOne struct{ repo AuditRepository }

func (a appendOne) Record(ctx context.Context, ev appointment.AuditEvent) error {
	return a.repo.AppendAudit(ctx, ev)
}

// own reports whether actor is the patient whose account is patientUserID:
// their own appointments are no one else's access.
func own(actor authn.Principal, patientUserID string) bool {
	return patientUserID != "" && patientUserID == actor.UserID
}

func (s *service) auditEvent(ctx context.Context, actor authn.Principal, action appointment.Action, resource, patientID, resourceID string,
	outcome appointment.Outcome) appointment.AuditEvent {
	return appointment.AuditEvent{
		ID: s.newID(), OccurredAt: s.now(), UserID: actor.UserID, Role: actor.PrimaryRole(),
		Action: action, Resource: resource, PatientID: patientID, ResourceID: resourceID,
		Outcome: outcome, RequestID: requestid.From(ctx),
	}
}

// event is the audit event of actor's action on ap.
func (s *service) event(ctx context.Context, actor authn.Principal, action appointment.Action, ap appointment.Appointment,
	outcome appointment.Outcome) appointment.AuditEvent {
	return s.auditEvent(ctx, actor, action, appointment.ResourceAppointment, ap.PatientID, ap.ID, outcome)
}

// record stores an event outside a write transaction.
func (s *service) record(ctx context.Context, ev appointment.AuditEvent) error {
	if err := s.recorder.Record(ctx, ev); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// refuse records the denial ev and returns err, or the recording failure.
func (s *service) refuse(ctx context.Context, ev appointment.AuditEvent, err error) error {
	if rerr := s.record(ctx, ev); rerr != nil {
		return rerr
	}
	return err
}

// deny records actor's refused action on ap and returns err.
func (s *service) deny(ctx context.Context, actor authn.Principal, action appointment.Action, ap appointment.Appointment, err error) error {
	return s.refuse(ctx, s.event(ctx, actor, action, ap, appointment.OutcomeDenied), err)
}

// denyOthers is deny for a refusal that tells the caller something of the
// patient's other appointments (busy then, too many): on the patient's
// trail when someone else asked, so that probing them is seen; the
// patient's own refusal tells them only of themselves.
func (s *service) denyOthers(ctx context.Context, actor authn.Principal, action appointment.Action, ap appointment.Appointment, err error) error {
	if own(actor, ap.PatientUserID) {
		return err
	}
	return s.deny(ctx, actor, action, ap, err)
}

// read records actor's read of ap, unless ap is their own.
func (s *service) read(ctx context.Context, actor authn.Principal, ap appointment.Appointment) error {
	if own(actor, ap.PatientUserID) {
		return nil
	}
	return s.record(ctx, s.event(ctx, actor, appointment.ActionRead, ap, appointment.OutcomeAllowed))
}

// unchanged answers an action that changes nothing: the appointment as it
// is, and the request on record though nothing is written.
func (s *service) unchanged(ctx context.Context, actor authn.Principal, action appointment.Action, ap appointment.Appointment) (appointment.Appointment, error) {
	if err := s.record(ctx, s.event(ctx, actor, action, ap, appointment.OutcomeAllowed)); err != nil {
		return appointment.Appointment{}, err
	}
	return ap, nil
}

// listed records a page of a list before it is sent: one event on the
// trail of each appointment's patient other than the caller, since the page
// shows them, and for staff one for the list itself (who listed, when).
// They go in one multi-row INSERT.
func (s *service) listed(ctx context.Context, actor authn.Principal, items []appointment.Appointment) error {
	var evs []appointment.AuditEvent
	if isStaff(actor) {
		evs = append(evs, s.auditEvent(ctx, actor, appointment.ActionList, appointment.ResourceAppointment, "", "", appointment.OutcomeAllowed))
	}
	for _, ap := range items {
		if !own(actor, ap.PatientUserID) {
			evs = append(evs, s.event(ctx, actor, appointment.ActionList, ap, appointment.OutcomeAllowed))
		}
	}
	if len(evs) == 0 {
		return nil
	}
	if err := s.repo.AppendAudit(ctx, evs...); err != nil {
		return fmt.Errorf("record audit events: %w", err)
	}
	return nil
}

// AuditTrail answers the patient themself and administrators. Anyone else
// is refused, on the trail: a doctor with 403 (the patient's profile is
// theirs to read, so it is no secret), others with the 404 of a patient
// that does not exist.
func (s *service) AuditTrail(ctx context.Context, actor authn.Principal, q appointment.AuditQuery) (page.Page[appointment.AuditEvent], error) {
	var none page.Page[appointment.AuditEvent]
	if err := authenticated(actor); err != nil {
		return none, err
	}
	id, ok := ids.Canonical(q.PatientID)
	switch {
	case q.PatientID == "":
		return none, domainerr.Field("patientId", "is required")
	case !ok:
		return none, domainerr.Field("patientId", "must be a UUID")
	case q.Limit < 0 || q.Limit > page.MaxLimit:
		return none, page.ErrLimit
	}
	q.PatientID = id
	trail := func(outcome appointment.Outcome) appointment.AuditEvent {
		return s.auditEvent(ctx, actor, appointment.ActionRead, appointment.ResourceAudit, id, "", outcome)
	}
	switch {
	case isAdmin(actor):
		// Reading another's trail is itself on the trail, recorded first so
		// that it shows on the page it produces.
		if err := s.record(ctx, trail(appointment.OutcomeAllowed)); err != nil {
			return none, err
		}
	default:
		mine, err := s.ownsPatient(ctx, actor, id)
		switch {
		case err != nil:
			return none, err
		case mine:
		case actor.Has(authn.RoleDoctor):
			return none, s.refuse(ctx, trail(appointment.OutcomeDenied), ErrTrailForbidden)
		default:
			return none, s.refuse(ctx, trail(appointment.OutcomeDenied), ErrPatientNotFound)
		}
	}
	return s.repo.ListAudit(ctx, q)
}

// ownsPatient reports whether patientID is the calling patient's profile.
func (s *service) ownsPatient(ctx context.Context, actor authn.Principal, patientID string) (bool, error) {
	if !actor.Has(authn.RolePatient) {
		return false, nil
	}
	p, err := s.patients.Me(ctx)
	switch {
	case errors.Is(err, ErrUnknownPatient):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("look up patient: %w", err)
	}
	return p.ID == patientID, nil
}
