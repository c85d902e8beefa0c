package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
)

var errInactive = domainerr.New(domainerr.Conflict, "the patient's profile is inactive")

// OpenEncounter lets a doctor open an encounter for an active patient.
func (s *service) OpenEncounter(ctx context.Context, actor authn.Principal, patientID string, in record.Clinical) (record.Encounter, error) {
	if err := in.Validate(); err != nil {
		return record.Encounter{}, err
	}
	in.AppointmentID = canonicalAppointment(in.AppointmentID)
	r, err := s.relate(ctx, actor, patientID)
	if err != nil {
		return record.Encounter{}, err
	}
	if !actor.Has(authn.RoleDoctor) || actor.UserID == "" {
		return record.Encounter{}, s.deny(ctx, actor, record.ActionCreate, record.ResourceEncounter, patientID, "", refusal(r))
	}
	// A doctor opens an encounter only for a patient they already treat, or
	// for an appointment of theirs with the patient: opening one would
	// otherwise give any doctor every patient's records.
	if in.AppointmentID != "" {
		if err := s.checkAppointment(ctx, actor, r, record.ActionCreate, patientID, "", in.AppointmentID); err != nil {
			return record.Encounter{}, err
		}
	} else if !r.treats {
		return record.Encounter{}, s.deny(ctx, actor, record.ActionCreate, record.ResourceEncounter, patientID, "", refusal(r))
	}
	if !r.patient.Active {
		return record.Encounter{}, errInactive
	}
	now := s.now()
	e := record.Encounter{
		ID: s.NewID(), PatientID: patientID, DoctorID: actor.UserID, Status: record.EncounterOpen,
		Clinical: in, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	ev := s.event(ctx, actor, record.ActionCreate, record.ResourceEncounter, patientID, e.ID, record.OutcomeAllowed, "")
	if err := s.Encounters.CreateEncounter(ctx, e, ev); err != nil {
		return record.Encounter{}, err
	}
	return e, nil
}

// canonicalAppointment returns a validated appointment id in lower case, so
// that the stored id and the signed event's match the appointment service's.
func canonicalAppointment(id string) string {
	if c, ok := ids.Canonical(id); ok {
		return c
	}
	return id
}

// checkAppointment checks that id names an appointment of the caller with
// the patient that did not fall through, asking the appointment service
// with the caller's token. A doctor who does not yet treat the patient
// needs one someone else booked (AppointmentRef.relates); a refusal is
// audited like any other.
func (s *service) checkAppointment(ctx context.Context, actor authn.Principal, r relation, action record.Action,
	patientID, encounterID, id string) error {
	if s.Appointments == nil {
		return s.deny(ctx, actor, action, record.ResourceEncounter, patientID, encounterID, record.ErrUnknownAppointment)
	}
	a, err := s.Appointments.Appointment(ctx, id)
	switch {
	case errors.Is(err, domainerr.NotFound):
	case err != nil:
		return fmt.Errorf("check appointment: %w", err)
	case a.PatientID == patientID && (a.relates(actor.UserID) || r.treats && a.ours(actor.UserID)):
		return nil
	}
	return s.deny(ctx, actor, action, record.ResourceEncounter, patientID, encounterID, record.ErrUnknownAppointment)
}

// readEncounter loads an encounter the caller may read, recording the read.
func (s *service) readEncounter(ctx context.Context, actor authn.Principal, reason, patientID, id, resource string) (record.Encounter, error) {
	r, err := s.relate(ctx, actor, patientID)
	if err != nil {
		return record.Encounter{}, err
	}
	why, err := s.clinical(ctx, actor, r, reason, record.ActionRead, resource, id)
	if err != nil {
		return record.Encounter{}, err
	}
	e, err := s.Encounters.EncounterByID(ctx, patientID, id)
	if err != nil {
		return record.Encounter{}, err
	}
	if err := s.allow(ctx, actor, record.ActionRead, resource, patientID, id, why); err != nil {
		return record.Encounter{}, err
	}
	return e, nil
}

// GetEncounter returns an encounter with its addenda.
func (s *service) GetEncounter(ctx context.Context, actor authn.Principal, reason, patientID, id string) (EncounterView, error) {
	e, err := s.readEncounter(ctx, actor, reason, patientID, id, record.ResourceEncounter)
	if err != nil {
		return EncounterView{}, err
	}
	add, err := s.Encounters.Addenda(ctx, patientID, id)
	if err != nil {
		return EncounterView{}, err
	}
	return EncounterView{Encounter: e, Addenda: add}, nil
}

// EncounterRevisions returns every version of an encounter, oldest first.
func (s *service) EncounterRevisions(ctx context.Context, actor authn.Principal, reason, patientID, id string) ([]record.Encounter, error) {
	if _, err := s.readEncounter(ctx, actor, reason, patientID, id, record.ResourceRevisions); err != nil {
		return nil, err
	}
	return s.Encounters.EncounterRevisions(ctx, patientID, id)
}

// ListEncounters lists a patient's encounters, newest first.
func (s *service) ListEncounters(ctx context.Context, actor authn.Principal, reason string, q record.EncounterQuery) (page.Page[record.Encounter], error) {
	r, err := s.relate(ctx, actor, q.PatientID)
	if err != nil {
		return page.Page[record.Encounter]{}, err
	}
	why, err := s.clinical(ctx, actor, r, reason, record.ActionList, record.ResourceEncounter, "")
	if err != nil {
		return page.Page[record.Encounter]{}, err
	}
	out, err := s.Encounters.ListEncounters(ctx, q)
	if err != nil {
		return page.Page[record.Encounter]{}, err
	}
	if err := s.allow(ctx, actor, record.ActionList, record.ResourceEncounter, q.PatientID, "", why); err != nil {
		return page.Page[record.Encounter]{}, err
	}
	return out, nil
}

// authored loads an encounter for a change only its author may make
// (admins too when admin is set), checking If-Match. The caller must still
// see the patient's records: the author of a note entered in error who no
// longer treats the patient learns nothing of it. It also returns the
// caller's relation to the patient.
func (s *service) authored(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, action record.Action,
	admin bool) (record.Encounter, relation, error) {
	r, err := s.relate(ctx, actor, patientID)
	if err != nil {
		return record.Encounter{}, relation{}, err
	}
	if !r.readsClinical() && !r.admin {
		return record.Encounter{}, r, s.deny(ctx, actor, action, record.ResourceEncounter, patientID, id, record.ErrNotFound)
	}
	e, err := s.Encounters.EncounterByID(ctx, patientID, id)
	if err != nil {
		return record.Encounter{}, r, err
	}
	mine := actor.Has(authn.RoleDoctor) && actor.UserID != "" && e.DoctorID == actor.UserID
	if !mine && !(admin && r.admin) {
		return record.Encounter{}, r, s.deny(ctx, actor, action, record.ResourceEncounter, patientID, id, refusal(r))
	}
	switch {
	case e.Status == record.EncounterEnteredInError:
		err = record.ErrEnteredInError
	case ifMatch == 0:
		err = record.ErrPreconditionRequired
	case e.Version != ifMatch:
		err = domainerr.StaleFor(ifMatch, record.ErrStaleVersion)
	default:
		return e, r, nil
	}
	if !mine {
		// An administrator's failed attempt is audited too, so that trying
		// version after version leaves a trace.
		err = s.deny(ctx, actor, action, record.ResourceEncounter, patientID, id, err)
	}
	return record.Encounter{}, r, err
}

// UpdateEncounter replaces the note of an open encounter; its author only.
// The read-only fields sent back must be the encounter's.
func (s *service) UpdateEncounter(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, in EncounterUpdate) (record.Encounter, error) {
	if err := in.Validate(); err != nil {
		return record.Encounter{}, err
	}
	in.AppointmentID = canonicalAppointment(in.AppointmentID)
	e, _, err := s.authored(ctx, actor, patientID, id, ifMatch, record.ActionUpdate, false)
	if err != nil {
		return record.Encounter{}, err
	}
	if e.Status == record.EncounterSigned {
		return record.Encounter{}, record.ErrSigned
	}
	if err := sentBack(in, e); err != nil {
		return record.Encounter{}, err
	}
	switch {
	case in.AppointmentID == "":
		// A body without appointmentId edits the note only: dropping the
		// link would leave the visit unfulfilled once the note is signed.
		in.AppointmentID = e.AppointmentID
	case in.AppointmentID != e.AppointmentID:
		// The author of an open encounter of the patient treats them.
		if err := s.checkAppointment(ctx, actor, relation{treats: true}, record.ActionUpdate, patientID, id, in.AppointmentID); err != nil {
			return record.Encounter{}, err
		}
	}
	e.Clinical, e.UpdatedAt, e.Version = in.Clinical, s.now(), e.Version+1
	ev := s.event(ctx, actor, record.ActionUpdate, record.ResourceEncounter, patientID, id, record.OutcomeAllowed, "")
	if err := s.Encounters.UpdateEncounter(ctx, e, ev); err != nil {
		return record.Encounter{}, err
	}
	return e, nil
}

const serverSet = "is set by the server and differs from the current value"

// sentBack refuses the read-only fields of in sent with a value other than
// open encounter e's, naming each: a client may send back what it read, but
// not rewrite what the server keeps. The version read travels in If-Match.
func sentBack(in EncounterUpdate, e record.Encounter) error {
	var fe domainerr.FieldErrors
	id := func(field string, sent *string, cur string) {
		if sent != nil && !sameID(*sent, cur) {
			fe.Add(field, serverSet)
		}
	}
	instant := func(field string, sent *time.Time, cur time.Time) {
		if sent != nil && !sent.Equal(cur) {
			fe.Add(field, serverSet)
		}
	}
	id("id", in.ID, e.ID)
	id("patientId", in.PatientID, e.PatientID)
	id("doctorId", in.DoctorID, e.DoctorID)
	if in.Status != nil && *in.Status != e.Status {
		fe.Add("status", "is changed by signing or marking entered-in-error, not by PUT")
	}
	instant("createdAt", in.CreatedAt, e.CreatedAt)
	instant("updatedAt", in.UpdatedAt, e.UpdatedAt)
	instant("signedAt", in.SignedAt, e.SignedAt)
	if in.ErrorReason != nil && *in.ErrorReason != e.ErrorReason {
		fe.Add("enteredInErrorReason", serverSet)
	}
	// An open note has no addenda: they complete a signed one.
	if len(in.Addenda) > 0 {
		fe.Add("addenda", "are added to a signed note with POST .../addenda, not by PUT")
	}
	if in.Version != nil && *in.Version != e.Version {
		fe.Add("version", "is set by the server; send the version you read in If-Match")
	}
	return fe.Err()
}

// sameID compares two ids in canonical form, so that an id sent back in
// upper case is the one read; ids that are no UUIDs compare as they are.
func sameID(a, b string) bool {
	ca, okA := ids.Canonical(a)
	cb, okB := ids.Canonical(b)
	if okA && okB {
		return ca == cb
	}
	return a == b
}

// SignEncounter signs an open note; from then on it never changes.
func (s *service) SignEncounter(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64) (record.Encounter, error) {
	e, _, err := s.authored(ctx, actor, patientID, id, ifMatch, record.ActionSign, false)
	if err != nil {
		return record.Encounter{}, err
	}
	if e.Status == record.EncounterSigned {
		return record.Encounter{}, record.ErrSigned
	}
	now := s.now()
	e.Status, e.SignedAt, e.UpdatedAt, e.Version = record.EncounterSigned, now, now, e.Version+1
	ev := s.event(ctx, actor, record.ActionSign, record.ResourceEncounter, patientID, id, record.OutcomeAllowed, "")
	signed, err := signedEvent(e)
	if err != nil {
		return record.Encounter{}, err
	}
	if err := s.Encounters.UpdateEncounter(ctx, e, ev, signed); err != nil {
		return record.Encounter{}, err
	}
	return e, nil
}

// signedEvent tells other services that e's note is signed: the appointment
// service marks the encounter's appointment fulfilled. No clinical content
// travels.
func signedEvent(e record.Encounter) (events.Event, error) {
	var appointment *string
	if e.AppointmentID != "" {
		appointment = &e.AppointmentID
	}
	return events.New(EncounterSigned, 1, e.ID, struct {
		EncounterID   string    `json:"encounterId"`
		PatientID     string    `json:"patientId"`
		DoctorUserID  string    `json:"doctorUserId"`
		AppointmentID *string   `json:"appointmentId"`
		SignedAt      time.Time `json:"signedAt"`
	}{e.ID, e.PatientID, e.DoctorID, appointment, e.SignedAt}, e.SignedAt)
}

// RetractEncounter marks an encounter entered-in-error, keeping every
// version: its author or an administrator.
func (s *service) RetractEncounter(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, why string) (record.Encounter, error) {
	if err := record.ValidateReason("reason", why); err != nil {
		return record.Encounter{}, err
	}
	e, r, err := s.authored(ctx, actor, patientID, id, ifMatch, record.ActionRetract, true)
	if err != nil {
		return record.Encounter{}, err
	}
	e.Status, e.ErrorReason, e.UpdatedAt, e.Version = record.EncounterEnteredInError, why, s.now(), e.Version+1
	ev := s.event(ctx, actor, record.ActionRetract, record.ResourceEncounter, patientID, id, record.OutcomeAllowed, "")
	if err := s.Encounters.UpdateEncounter(ctx, e, ev); err != nil {
		return record.Encounter{}, err
	}
	if !r.readsClinical() {
		// An administrator manages the record but reads its clinical
		// content only with a reason (break glass): the answer leaves it out.
		e.Clinical = record.Clinical{AppointmentID: e.AppointmentID}
	}
	return e, nil
}

// AddAddendum adds a correction to a signed note: a doctor who treats the
// patient.
func (s *service) AddAddendum(ctx context.Context, actor authn.Principal, patientID, id, text string) (record.Addendum, error) {
	if err := record.ValidateAddendum(text); err != nil {
		return record.Addendum{}, err
	}
	r, err := s.relate(ctx, actor, patientID)
	if err != nil {
		return record.Addendum{}, err
	}
	if !r.treats {
		return record.Addendum{}, s.deny(ctx, actor, record.ActionCreate, record.ResourceAddendum, patientID, id, refusal(r))
	}
	e, err := s.Encounters.EncounterByID(ctx, patientID, id)
	if err != nil {
		return record.Addendum{}, err
	}
	switch e.Status {
	case record.EncounterOpen:
		return record.Addendum{}, record.ErrNotSigned
	case record.EncounterEnteredInError:
		return record.Addendum{}, record.ErrEnteredInError
	}
	a := record.Addendum{ID: s.NewID(), EncounterID: id, PatientID: patientID, AuthorID: actor.UserID, Text: text, CreatedAt: s.now()}
	ev := s.event(ctx, actor, record.ActionCreate, record.ResourceAddendum, patientID, id, record.OutcomeAllowed, "")
	if err := s.Encounters.AddAddendum(ctx, a, ev); err != nil {
		return record.Addendum{}, err
	}
	return a, nil
}
