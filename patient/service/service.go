// Package service holds the patient use cases behind the Service interface,
// the ports they need (repositories, audit recorder, clock), and the access
// rules: who may read or change which patient's record.
package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/problem"
	"github.com/medisync/medisync/shared/requestid"
)

// Service is the patient service's use cases. Every method takes the actor
// the request is made for, decides whether it may act, and records an audit
// event for every access to, and every denial of, a patient's data.
type Service interface {
	CreatePatient(ctx context.Context, a Actor, in NewPatient) (patient.Patient, error)
	MyPatient(ctx context.Context, a Actor) (patient.Patient, error)
	GetPatient(ctx context.Context, a Actor, id string) (patient.Patient, error)
	UpdatePatient(ctx context.Context, a Actor, id string, ifMatch int64, in PatientUpdate) (patient.Patient, error)
	DeactivatePatient(ctx context.Context, a Actor, id string, ifMatch int64) error
	SearchPatients(ctx context.Context, a Actor, q patient.SearchQuery) (patient.Page[patient.Patient], error)

	ListHistory(ctx context.Context, a Actor, q patient.HistoryQuery) (patient.Page[patient.HistoryEntry], error)
	GetHistoryEntry(ctx context.Context, a Actor, patientID, entryID string) (patient.HistoryEntry, error)
	RecordHistory(ctx context.Context, a Actor, patientID string, in EntryInput) (patient.HistoryEntry, error)
	AmendHistory(ctx context.Context, a Actor, patientID, entryID string, ifMatch int64, in EntryInput) (patient.HistoryEntry, error)
	RetractHistory(ctx context.Context, a Actor, patientID, entryID string, ifMatch int64) error
	HistoryRevisions(ctx context.Context, a Actor, patientID, entryID string) ([]patient.HistoryEntry, error)

	AuditTrail(ctx context.Context, a Actor, q patient.AuditQuery) (patient.Page[patient.AuditEvent], error)
}

// NewPatient is a profile to create. UserID and Active may be set by an
// administrator only; nil means "not sent".
type NewPatient struct {
	patient.Profile
	UserID *string
	Active *bool
}

// PatientUpdate replaces a profile. UserID and Active may be set by an
// administrator only; nil leaves them as they are.
type PatientUpdate = NewPatient

// EntryInput is a history entry to record or amend. RecordedBy is refused
// when sent: it always comes from the caller's token.
type EntryInput struct {
	patient.Clinical
	RecordedBy *string
}

// PatientRepository stores patient records.
type PatientRepository interface {
	// CreatePatient stores p and ev in one transaction; a second profile
	// for the same user is patient.ErrProfileExists.
	CreatePatient(ctx context.Context, p patient.Patient, ev patient.AuditEvent) error
	PatientByID(ctx context.Context, id string) (patient.Patient, error)
	PatientByUserID(ctx context.Context, userID string) (patient.Patient, error)
	// UpdatePatient stores p, whose Version is one more than the stored
	// one, and ev in one transaction. A stored version other than
	// p.Version-1 is patient.ErrStaleVersion; no record, patient.ErrNotFound.
	UpdatePatient(ctx context.Context, p patient.Patient, ev patient.AuditEvent) error
	SearchPatients(ctx context.Context, q patient.SearchQuery) (patient.Page[patient.Patient], error)
}

// HistoryRepository stores history entries and every revision of them.
type HistoryRepository interface {
	// CreateEntry stores e as its first revision, with ev, in one transaction.
	CreateEntry(ctx context.Context, e patient.HistoryEntry, ev patient.AuditEvent) error
	EntryByID(ctx context.Context, patientID, entryID string) (patient.HistoryEntry, error)
	// UpdateEntry stores e, whose Version is one more than the stored one,
	// as a new revision, keeping the earlier ones, with ev in one
	// transaction; errors as for UpdatePatient.
	UpdateEntry(ctx context.Context, e patient.HistoryEntry, ev patient.AuditEvent) error
	ListEntries(ctx context.Context, q patient.HistoryQuery) (patient.Page[patient.HistoryEntry], error)
	// Revisions returns every revision of an entry, oldest first.
	Revisions(ctx context.Context, patientID, entryID string) ([]patient.HistoryEntry, error)
}

// AuditRepository stores audit events; it can append and list, never change.
type AuditRepository interface {
	AppendAudit(ctx context.Context, evs ...patient.AuditEvent) error
	ListAudit(ctx context.Context, q patient.AuditQuery) (patient.Page[patient.AuditEvent], error)
}

// AuditRecorder durably records an event that is not part of a write
// transaction (reads and denials); it returns once the event is stored.
type AuditRecorder interface {
	Record(ctx context.Context, ev patient.AuditEvent) error
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// ClockFunc adapts a function to Clock.
type ClockFunc func() time.Time

// Now calls f.
func (f ClockFunc) Now() time.Time { return f() }

// Deps are what New needs.
type Deps struct {
	Patients PatientRepository
	History  HistoryRepository
	Audit    AuditRepository
	Recorder AuditRecorder
	Clock    Clock
	NewID    func() string
}

type service struct {
	patients PatientRepository
	history  HistoryRepository
	audit    AuditRepository
	recorder AuditRecorder
	clock    Clock
	newID    func() string
}

// New returns the Service.
func New(d Deps) Service {
	return &service{patients: d.Patients, history: d.History, audit: d.Audit, recorder: d.Recorder, clock: d.Clock, newID: d.NewID}
}

// today is the latest calendar date anywhere on Earth (UTC+14), so that no
// date that is already "today" somewhere counts as in the future.
func (s *service) today() patient.Date {
	return patient.DateOf(s.clock.Now().UTC().Add(14 * time.Hour))
}

func (s *service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

func (s *service) event(ctx context.Context, a Actor, action patient.Action, resource, patientID, resourceID string,
	outcome patient.Outcome) patient.AuditEvent {
	return patient.AuditEvent{
		ID: s.newID(), OccurredAt: s.now(), UserID: a.UserID, Role: a.Role(),
		Action: action, Resource: resource, PatientID: patientID, ResourceID: resourceID,
		Outcome: outcome, RequestID: requestid.From(ctx),
	}
}

// record stores an event outside a write transaction.
func (s *service) record(ctx context.Context, ev patient.AuditEvent) error {
	if err := s.recorder.Record(ctx, ev); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// deny records a denial and returns err, or the recording failure.
func (s *service) deny(ctx context.Context, a Actor, action patient.Action, resource, patientID, resourceID string, err error) error {
	if rerr := s.record(ctx, s.event(ctx, a, action, resource, patientID, resourceID, patient.OutcomeDenied)); rerr != nil {
		return rerr
	}
	return err
}

// refusal is the error for an actor who may not act on p: a caller who may
// see p learns it is forbidden; anyone else learns nothing, not even that p
// exists.
func refusal(a Actor, p patient.Patient) error {
	if a.Staff() || a.Owns(p) {
		return patient.ErrForbidden
	}
	return patient.ErrNotFound
}

// load fetches a patient and checks that a may act on it (may(a, p)); a
// refusal is recorded as a denial.
func (s *service) load(ctx context.Context, a Actor, id string, action patient.Action, resource, resourceID string,
	may func(Actor, patient.Patient) bool) (patient.Patient, error) {
	p, err := s.patients.PatientByID(ctx, id)
	if err != nil {
		return patient.Patient{}, err
	}
	if !may(a, p) {
		return patient.Patient{}, s.deny(ctx, a, action, resource, p.ID, resourceID, refusal(a, p))
	}
	return p, nil
}

func canRead(a Actor, p patient.Patient) bool   { return a.Staff() || a.Owns(p) }
func canUpdate(a Actor, p patient.Patient) bool { return a.Admin || a.Owns(p) }
func canAdmin(a Actor, _ patient.Patient) bool  { return a.Admin }
func canChart(a Actor, _ patient.Patient) bool  { return a.Staff() }
func canAudit(a Actor, p patient.Patient) bool  { return a.Admin || a.Owns(p) }

// canonicalID writes a user id as tokens carry it, in lower case, so that
// the link matches the token's subject on every database.
func canonicalID(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func adminOnlyFields(in NewPatient) problem.FieldErrors {
	var fe problem.FieldErrors
	if in.UserID != nil {
		fe.Add("userId", "may be set by an administrator only")
	}
	if in.Active != nil {
		fe.Add("active", "may be set by an administrator only")
	}
	return fe
}

func (s *service) CreatePatient(ctx context.Context, a Actor, in NewPatient) (patient.Patient, error) {
	p := patient.Patient{Active: true, Version: 1}
	switch {
	case a.Admin:
		if in.UserID != nil {
			p.UserID = canonicalID(*in.UserID)
		}
		if in.Active != nil {
			p.Active = *in.Active
		}
	case a.Patient:
		if fe := adminOnlyFields(in); len(fe) > 0 {
			return patient.Patient{}, s.deny(ctx, a, patient.ActionCreate, patient.ResourcePatient, "", "", fe)
		}
		p.UserID = a.UserID
	default:
		return patient.Patient{}, s.deny(ctx, a, patient.ActionCreate, patient.ResourcePatient, "", "", patient.ErrForbidden)
	}
	prof := in.Profile
	prof.Normalize()
	fe := prof.Validate(s.today())
	if p.UserID != "" && !ValidID(p.UserID) {
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
	ev := s.event(ctx, a, patient.ActionCreate, patient.ResourcePatient, p.ID, "", patient.OutcomeAllowed)
	if err := s.patients.CreatePatient(ctx, p, ev); err != nil {
		return patient.Patient{}, err
	}
	return p, nil
}

func (s *service) MyPatient(ctx context.Context, a Actor) (patient.Patient, error) {
	p, err := s.patients.PatientByUserID(ctx, a.UserID)
	if err != nil {
		return patient.Patient{}, err
	}
	if err := s.record(ctx, s.event(ctx, a, patient.ActionRead, patient.ResourcePatient, p.ID, "", patient.OutcomeAllowed)); err != nil {
		return patient.Patient{}, err
	}
	return p, nil
}

func (s *service) GetPatient(ctx context.Context, a Actor, id string) (patient.Patient, error) {
	p, err := s.load(ctx, a, id, patient.ActionRead, patient.ResourcePatient, "", canRead)
	if err != nil {
		return patient.Patient{}, err
	}
	if err := s.record(ctx, s.event(ctx, a, patient.ActionRead, patient.ResourcePatient, p.ID, "", patient.OutcomeAllowed)); err != nil {
		return patient.Patient{}, err
	}
	return p, nil
}

func (s *service) UpdatePatient(ctx context.Context, a Actor, id string, ifMatch int64, in PatientUpdate) (patient.Patient, error) {
	cur, err := s.load(ctx, a, id, patient.ActionUpdate, patient.ResourcePatient, "", canUpdate)
	if err != nil {
		return patient.Patient{}, err
	}
	next := cur
	if a.Admin {
		if in.UserID != nil {
			next.UserID = canonicalID(*in.UserID)
		}
		if in.Active != nil {
			next.Active = *in.Active
		}
	} else if fe := adminOnlyFields(in); len(fe) > 0 {
		return patient.Patient{}, s.deny(ctx, a, patient.ActionUpdate, patient.ResourcePatient, cur.ID, "", fe)
	}
	if ifMatch == 0 {
		return patient.Patient{}, patient.ErrPreconditionRequired
	}
	if ifMatch != cur.Version {
		return patient.Patient{}, patient.ErrStaleVersion
	}
	prof := in.Profile
	prof.Normalize()
	fe := prof.Validate(s.today())
	if next.UserID != "" && !ValidID(next.UserID) {
		fe.Add("userId", "must be a UUID")
	}
	if err := fe.Err(); err != nil {
		return patient.Patient{}, err
	}
	next.Profile, next.Version, next.UpdatedAt = prof, ifMatch+1, s.now()
	ev := s.event(ctx, a, patient.ActionUpdate, patient.ResourcePatient, cur.ID, "", patient.OutcomeAllowed)
	if err := s.patients.UpdatePatient(ctx, next, ev); err != nil {
		return patient.Patient{}, err
	}
	return next, nil
}

func (s *service) DeactivatePatient(ctx context.Context, a Actor, id string, ifMatch int64) error {
	cur, err := s.load(ctx, a, id, patient.ActionDelete, patient.ResourcePatient, "", canAdmin)
	if err != nil {
		return err
	}
	if ifMatch != 0 && ifMatch != cur.Version {
		return patient.ErrStaleVersion
	}
	ev := s.event(ctx, a, patient.ActionDelete, patient.ResourcePatient, cur.ID, "", patient.OutcomeAllowed)
	if !cur.Active {
		// Already inactive: nothing changes, but the request is still on record.
		return s.record(ctx, ev)
	}
	next := cur
	next.Active, next.Version, next.UpdatedAt = false, cur.Version+1, s.now()
	return s.patients.UpdatePatient(ctx, next, ev)
}

func (s *service) SearchPatients(ctx context.Context, a Actor, q patient.SearchQuery) (patient.Page[patient.Patient], error) {
	if !a.Staff() {
		return patient.Page[patient.Patient]{}, s.deny(ctx, a, patient.ActionSearch, patient.ResourcePatient, "", "", patient.ErrForbidden)
	}
	page, err := s.patients.SearchPatients(ctx, q)
	if err != nil {
		return patient.Page[patient.Patient]{}, err
	}
	// The search itself, and for each patient it shows, an event on that
	// patient's trail: a page of results is a read of every record on it.
	evs := make([]patient.AuditEvent, 0, len(page.Items)+1)
	evs = append(evs, s.event(ctx, a, patient.ActionSearch, patient.ResourcePatient, "", "", patient.OutcomeAllowed))
	for _, p := range page.Items {
		evs = append(evs, s.event(ctx, a, patient.ActionSearch, patient.ResourcePatient, p.ID, "", patient.OutcomeAllowed))
	}
	if err := s.audit.AppendAudit(ctx, evs...); err != nil {
		return patient.Page[patient.Patient]{}, fmt.Errorf("record audit events: %w", err)
	}
	return page, nil
}

func (s *service) ListHistory(ctx context.Context, a Actor, q patient.HistoryQuery) (patient.Page[patient.HistoryEntry], error) {
	if _, err := s.load(ctx, a, q.PatientID, patient.ActionRead, patient.ResourceHistory, "", canRead); err != nil {
		return patient.Page[patient.HistoryEntry]{}, err
	}
	page, err := s.history.ListEntries(ctx, q)
	if err != nil {
		return patient.Page[patient.HistoryEntry]{}, err
	}
	if err := s.record(ctx, s.event(ctx, a, patient.ActionRead, patient.ResourceHistory, q.PatientID, "", patient.OutcomeAllowed)); err != nil {
		return patient.Page[patient.HistoryEntry]{}, err
	}
	return page, nil
}

func (s *service) GetHistoryEntry(ctx context.Context, a Actor, patientID, entryID string) (patient.HistoryEntry, error) {
	if _, err := s.load(ctx, a, patientID, patient.ActionRead, patient.ResourceHistory, entryID, canRead); err != nil {
		return patient.HistoryEntry{}, err
	}
	e, err := s.history.EntryByID(ctx, patientID, entryID)
	if err != nil {
		return patient.HistoryEntry{}, err
	}
	if err := s.record(ctx, s.event(ctx, a, patient.ActionRead, patient.ResourceHistory, patientID, entryID, patient.OutcomeAllowed)); err != nil {
		return patient.HistoryEntry{}, err
	}
	return e, nil
}

func (s *service) clinical(in EntryInput) (patient.Clinical, error) {
	c := in.Clinical
	c.Normalize()
	fe := c.Validate(s.today())
	if in.RecordedBy != nil {
		fe.Add("recordedBy", "is set by the server from the caller's credentials")
	}
	return c, fe.Err()
}

func (s *service) RecordHistory(ctx context.Context, a Actor, patientID string, in EntryInput) (patient.HistoryEntry, error) {
	if _, err := s.load(ctx, a, patientID, patient.ActionCreate, patient.ResourceHistory, "", canChart); err != nil {
		return patient.HistoryEntry{}, err
	}
	c, err := s.clinical(in)
	if err != nil {
		return patient.HistoryEntry{}, err
	}
	e := patient.HistoryEntry{
		ID: s.newID(), PatientID: patientID, Clinical: c,
		RecordedBy: a.UserID, RecordedAt: s.now(), Version: 1,
	}
	ev := s.event(ctx, a, patient.ActionCreate, patient.ResourceHistory, patientID, e.ID, patient.OutcomeAllowed)
	if err := s.history.CreateEntry(ctx, e, ev); err != nil {
		return patient.HistoryEntry{}, err
	}
	return e, nil
}

func (s *service) AmendHistory(ctx context.Context, a Actor, patientID, entryID string, ifMatch int64, in EntryInput) (patient.HistoryEntry, error) {
	if _, err := s.load(ctx, a, patientID, patient.ActionUpdate, patient.ResourceHistory, entryID, canChart); err != nil {
		return patient.HistoryEntry{}, err
	}
	cur, err := s.history.EntryByID(ctx, patientID, entryID)
	if err != nil {
		return patient.HistoryEntry{}, err
	}
	if cur.Status == patient.StatusEnteredInError {
		return patient.HistoryEntry{}, patient.ErrEnteredInError
	}
	if ifMatch == 0 {
		return patient.HistoryEntry{}, patient.ErrPreconditionRequired
	}
	if ifMatch != cur.Version {
		return patient.HistoryEntry{}, patient.ErrStaleVersion
	}
	c, err := s.clinical(in)
	if err != nil {
		return patient.HistoryEntry{}, err
	}
	next := cur
	next.Clinical, next.AmendedBy, next.AmendedAt, next.Version = c, a.UserID, s.now(), ifMatch+1
	ev := s.event(ctx, a, patient.ActionUpdate, patient.ResourceHistory, patientID, entryID, patient.OutcomeAllowed)
	if err := s.history.UpdateEntry(ctx, next, ev); err != nil {
		return patient.HistoryEntry{}, err
	}
	return next, nil
}

func (s *service) RetractHistory(ctx context.Context, a Actor, patientID, entryID string, ifMatch int64) error {
	if _, err := s.load(ctx, a, patientID, patient.ActionDelete, patient.ResourceHistory, entryID, canChart); err != nil {
		return err
	}
	cur, err := s.history.EntryByID(ctx, patientID, entryID)
	if err != nil {
		return err
	}
	if ifMatch != 0 && ifMatch != cur.Version {
		return patient.ErrStaleVersion
	}
	ev := s.event(ctx, a, patient.ActionDelete, patient.ResourceHistory, patientID, entryID, patient.OutcomeAllowed)
	if cur.Status == patient.StatusEnteredInError {
		return s.record(ctx, ev)
	}
	next := cur
	next.Status, next.AmendedBy, next.AmendedAt, next.Version = patient.StatusEnteredInError, a.UserID, s.now(), cur.Version+1
	return s.history.UpdateEntry(ctx, next, ev)
}

func (s *service) HistoryRevisions(ctx context.Context, a Actor, patientID, entryID string) ([]patient.HistoryEntry, error) {
	if _, err := s.load(ctx, a, patientID, patient.ActionRead, patient.ResourceRevisions, entryID, canRead); err != nil {
		return nil, err
	}
	revs, err := s.history.Revisions(ctx, patientID, entryID)
	if err != nil {
		return nil, err
	}
	if len(revs) == 0 {
		return nil, patient.ErrNotFound
	}
	if err := s.record(ctx, s.event(ctx, a, patient.ActionRead, patient.ResourceRevisions, patientID, entryID, patient.OutcomeAllowed)); err != nil {
		return nil, err
	}
	return revs, nil
}

func (s *service) AuditTrail(ctx context.Context, a Actor, q patient.AuditQuery) (patient.Page[patient.AuditEvent], error) {
	if _, err := s.load(ctx, a, q.PatientID, patient.ActionRead, patient.ResourceAudit, "", canAudit); err != nil {
		return patient.Page[patient.AuditEvent]{}, err
	}
	// Reading the trail is itself on the trail, recorded first so that it
	// shows on the page it produces.
	if err := s.record(ctx, s.event(ctx, a, patient.ActionRead, patient.ResourceAudit, q.PatientID, "", patient.OutcomeAllowed)); err != nil {
		return patient.Page[patient.AuditEvent]{}, err
	}
	return s.audit.ListAudit(ctx, q)
}
