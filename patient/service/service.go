// Package service holds the patient use cases behind the Service interface,
// the ports they need (repositories, audit recorder, clock), and the access
// rules: who may read or change which patient's record.
package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/requestid"
)

// Service is the patient service's use cases. Every method takes the caller
// the request is made for, decides whether they may act, and records an
// audit event for every access to, and every denial of, a patient's data.
// A caller may hold several roles; the rights are the union of theirs.
type Service interface {
	CreatePatient(ctx context.Context, actor authn.Principal, in NewPatient) (patient.Patient, error)
	MyPatient(ctx context.Context, actor authn.Principal) (patient.Patient, error)
	GetPatient(ctx context.Context, actor authn.Principal, id string) (patient.Patient, error)
	UpdatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in PatientUpdate) (patient.Patient, error)
	DeactivatePatient(ctx context.Context, actor authn.Principal, id string, ifMatch int64) error
	SearchPatients(ctx context.Context, actor authn.Principal, q patient.SearchQuery) (page.Page[patient.Patient], error)

	ListHistory(ctx context.Context, actor authn.Principal, q patient.HistoryQuery) (page.Page[patient.HistoryEntry], error)
	GetHistoryEntry(ctx context.Context, actor authn.Principal, patientID, entryID string) (patient.HistoryEntry, error)
	RecordHistory(ctx context.Context, actor authn.Principal, patientID string, in EntryInput) (patient.HistoryEntry, error)
	AmendHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64, in EntryAmendment) (patient.HistoryEntry, error)
	RetractHistory(ctx context.Context, actor authn.Principal, patientID, entryID string, ifMatch int64) error
	HistoryRevisions(ctx context.Context, actor authn.Principal, patientID, entryID string) ([]patient.HistoryEntry, error)

	AuditTrail(ctx context.Context, actor authn.Principal, q patient.AuditQuery) (page.Page[patient.AuditEvent], error)
}

// NewPatient is a profile to create. UserID and Active may be set by an
// administrator only; nil means "not sent".
type NewPatient struct {
	patient.Profile
	UserID *string
	Active *bool
}

// PatientUpdate replaces a profile. UserID and Active may be changed by an
// administrator only; nil leaves them as they are. The fields the server
// manages may be sent back as they were read, so that a client can PUT what
// it got from GET; nil means "not sent".
type PatientUpdate struct {
	NewPatient
	ID        *string
	Version   *int64
	CreatedAt *time.Time
	UpdatedAt *time.Time
}

// EntryInput is a history entry to record. RecordedBy is refused when sent:
// it always comes from the caller's credentials.
type EntryInput struct {
	patient.Clinical
	RecordedBy *string
}

// EntryAmendment is a new revision of a history entry. The fields the
// server manages, RecordedBy included, may be sent back as they were read;
// nil means "not sent".
type EntryAmendment struct {
	EntryInput
	ID         *string
	PatientID  *string
	RecordedAt *time.Time
	AmendedBy  *string
	AmendedAt  *time.Time
	Version    *int64
}

// PatientRepository stores patient records.
type PatientRepository interface {
	// CreatePatient stores p and ev in one transaction; a second profile
	// for the same user is patient.ErrProfileExists.
	CreatePatient(ctx context.Context, p patient.Patient, ev patient.AuditEvent) error
	PatientByID(ctx context.Context, id string) (patient.Patient, error)
	PatientByUserID(ctx context.Context, userID string) (patient.Patient, error)
	// UpdatePatient stores p, whose Version is one more than the stored
	// one, ev and the events out (the outbox) in one transaction. A stored
	// version other than p.Version-1 is patient.ErrStaleVersion; no
	// record, patient.ErrNotFound; either way nothing is written.
	UpdatePatient(ctx context.Context, p patient.Patient, ev patient.AuditEvent, out ...events.Event) error
	// AnnouncePatient stores ev and the events out (the outbox) in one
	// transaction, leaving the record as it is.
	AnnouncePatient(ctx context.Context, ev patient.AuditEvent, out ...events.Event) error
	// SearchPatients answers page.ErrCursor for a cursor it did not issue;
	// so do ListEntries and ListAudit.
	SearchPatients(ctx context.Context, q patient.SearchQuery) (page.Page[patient.Patient], error)
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
	ListEntries(ctx context.Context, q patient.HistoryQuery) (page.Page[patient.HistoryEntry], error)
	// Revisions returns every revision of an entry, oldest first.
	Revisions(ctx context.Context, patientID, entryID string) ([]patient.HistoryEntry, error)
}

// AuditRepository stores audit events; it can append and list, never change.
type AuditRepository interface {
	AppendAudit(ctx context.Context, evs ...patient.AuditEvent) error
	ListAudit(ctx context.Context, q patient.AuditQuery) (page.Page[patient.AuditEvent], error)
}

// AuditRecorder durably records an event that is not part of a write
// transaction (reads and denials); it returns once the event is stored.
type AuditRecorder interface {
	Record(ctx context.Context, ev patient.AuditEvent) error
}

// CareTeam tells whether the calling doctor treats a patient, asked on
// their behalf (their token travels on): the records service decides, by
// the rule that opens the patient's records to them.
type CareTeam interface {
	Treating(ctx context.Context, patientID string) (bool, error)
}

// Deps are what New needs.
type Deps struct {
	Patients PatientRepository
	History  HistoryRepository
	Audit    AuditRepository
	Recorder AuditRecorder
	Clock    clock.Clock
	NewID    func() string // nil: ids.New
	// Care decides whether a doctor treats a patient (records applies the
	// clinic's policy too); nil: no doctor does.
	Care CareTeam
}

type service struct {
	patients PatientRepository
	history  HistoryRepository
	audit    AuditRepository
	recorder AuditRecorder
	clock    clock.Clock
	newID    func() string
	care     CareTeam
}

// New returns the Service.
func New(d Deps) Service {
	if d.NewID == nil {
		d.NewID = ids.New
	}
	return &service{patients: d.Patients, history: d.History, audit: d.Audit, recorder: d.Recorder, clock: d.Clock, newID: d.NewID,
		care: d.Care}
}

// today is the latest calendar date anywhere on Earth (UTC+14), so that no
// date that is already "today" somewhere counts as in the future.
func (s *service) today() civil.Date {
	return civil.Of(s.clock.Now().UTC().Add(14 * time.Hour))
}

func (s *service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// --- access rules ------------------------------------------------------------

// staff reports whether actor may see every patient's record.
func staff(actor authn.Principal) bool { return actor.HasAny(authn.RoleAdmin, authn.RoleDoctor) }

// admin reports whether actor is an administrator.
func admin(actor authn.Principal) bool { return actor.Has(authn.RoleAdmin) }

// owns reports whether p is actor's own record.
func owns(actor authn.Principal, p patient.Patient) bool {
	return actor.Has(authn.RolePatient) && actor.UserID != "" && p.UserID == actor.UserID
}

func canRead(actor authn.Principal, p patient.Patient) bool   { return staff(actor) || owns(actor, p) }
func canUpdate(actor authn.Principal, p patient.Patient) bool { return admin(actor) || owns(actor, p) }
func canAdmin(actor authn.Principal, _ patient.Patient) bool  { return admin(actor) }
func canChart(actor authn.Principal, _ patient.Patient) bool  { return staff(actor) }
func canAudit(actor authn.Principal, p patient.Patient) bool  { return admin(actor) || owns(actor, p) }

// refusal is the error for an actor who may not act on p: a caller who may
// see p learns it is forbidden; anyone else learns nothing, not even that p
// exists.
func refusal(actor authn.Principal, p patient.Patient) error {
	if canRead(actor, p) {
		return patient.ErrForbidden
	}
	return patient.ErrNotFound
}

// load fetches a patient and checks that actor may act on it (may); a
// refusal is recorded as a denial.
func (s *service) load(ctx context.Context, actor authn.Principal, id string, action patient.Action, resource, resourceID string,
	may func(authn.Principal, patient.Patient) bool) (patient.Patient, error) {
	p, err := s.patients.PatientByID(ctx, id)
	if err != nil {
		return patient.Patient{}, err
	}
	if !may(actor, p) {
		return patient.Patient{}, s.deny(ctx, actor, action, resource, p.ID, resourceID, refusal(actor, p))
	}
	return p, nil
}

// loadHistory is load for the patient's history (read: canRead, write:
// canChart), where a doctor must also treat the patient: an administrator
// and, reading, the patient themself need not. A refusal is a denial in
// the trail, 403: the doctor may see the profile, so it is no secret.
func (s *service) loadHistory(ctx context.Context, actor authn.Principal, id string, action patient.Action, resource, resourceID string) error {
	read := action == patient.ActionRead
	may := canChart
	if read {
		may = canRead
	}
	p, err := s.load(ctx, actor, id, action, resource, resourceID, may)
	if err != nil || admin(actor) || (read && owns(actor, p)) {
		return err
	}
	treating := false
	if s.care != nil {
		if treating, err = s.care.Treating(ctx, p.ID); err != nil {
			return fmt.Errorf("check care relation: %w", err)
		}
	}
	if !treating {
		return s.deny(ctx, actor, action, resource, p.ID, resourceID, patient.ErrNotTreating)
	}
	return nil
}

// --- audit -------------------------------------------------------------------

func (s *service) event(ctx context.Context, actor authn.Principal, action patient.Action, resource, patientID, resourceID string,
	outcome patient.Outcome) patient.AuditEvent {
	return patient.AuditEvent{
		ID: s.newID(), OccurredAt: s.now(), UserID: actor.UserID, Role: actor.PrimaryRole(),
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
func (s *service) deny(ctx context.Context, actor authn.Principal, action patient.Action, resource, patientID, resourceID string, err error) error {
	if rerr := s.record(ctx, s.event(ctx, actor, action, resource, patientID, resourceID, patient.OutcomeDenied)); rerr != nil {
		return rerr
	}
	return err
}

// --- fields sent back --------------------------------------------------------

const serverSet = "is set by the server and differs from the current value"

// sentBack refuses a server-managed field sent with a value other than the
// current one; not sent (nil) or sent back unchanged passes.
func sentBack[T comparable](fe *domainerr.FieldErrors, field string, sent *T, cur T) {
	if sent != nil && *sent != cur {
		fe.Add(field, serverSet)
	}
}

// sentBackTime is sentBack for instants, which compare with Equal.
func sentBackTime(fe *domainerr.FieldErrors, field string, sent *time.Time, cur time.Time) {
	if sent != nil && !sent.Equal(cur) {
		fe.Add(field, serverSet)
	}
}

// sentBackVersion refuses a version in the body other than the current one:
// the version a client read travels in If-Match.
func sentBackVersion(fe *domainerr.FieldErrors, sent *int64, cur int64) {
	if sent != nil && *sent != cur {
		fe.Add("version", "is set by the server; send the version you read in If-Match")
	}
}

// canonicalID writes an id as tokens carry it, in lower case, so that a
// link matches the token's subject on every database.
func canonicalID(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
