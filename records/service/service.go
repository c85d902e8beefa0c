// Package service holds the records use cases behind the Service interface,
// the ports they need (repositories, audit recorder, blob store, patient
// directory, clock), and the access rules: who may read or write which
// patient's encounters and documents.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/requestid"
)

// Service is the records use cases. Every method takes the caller the
// request is made for, decides whether they may act, and records an audit
// event for every access to, and every denial of, a patient's records.
// reason is an administrator's break-glass justification; others may leave
// it empty. Changes of state take the version the client read (If-Match):
// 0 (no If-Match, or "*") is record.ErrPreconditionRequired and a version no
// longer current record.ErrStaleVersion (domainerr.ErrWeakVersion for a
// weak tag), each after the caller's rights are checked, so that a caller
// who may not act gets their 403 or 404 and the denial is audited.
type Service interface {
	OpenEncounter(ctx context.Context, actor authn.Principal, patientID string, in record.Clinical) (record.Encounter, error)
	GetEncounter(ctx context.Context, actor authn.Principal, reason, patientID, id string) (EncounterView, error)
	ListEncounters(ctx context.Context, actor authn.Principal, reason string, q record.EncounterQuery) (page.Page[record.Encounter], error)
	UpdateEncounter(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, in EncounterUpdate) (record.Encounter, error)
	SignEncounter(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64) (record.Encounter, error)
	RetractEncounter(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, why string) (record.Encounter, error)
	AddAddendum(ctx context.Context, actor authn.Principal, patientID, id, text string) (record.Addendum, error)
	EncounterRevisions(ctx context.Context, actor authn.Principal, reason, patientID, id string) ([]record.Encounter, error)

	UploadDocument(ctx context.Context, actor authn.Principal, patientID string, meta record.DocumentMeta, body io.Reader) (record.Document, error)
	ReplaceDocument(ctx context.Context, actor authn.Principal, patientID, id string, meta record.DocumentMeta, body io.Reader) (record.Document, error)
	GetDocument(ctx context.Context, actor authn.Principal, patientID, id string) (record.Document, error)
	ListDocuments(ctx context.Context, actor authn.Principal, q record.DocumentQuery) (page.Page[record.Document], error)
	// RetractDocument marks any version of a document entered in error, a
	// superseded one too: an old version may be as wrong as the current one.
	RetractDocument(ctx context.Context, actor authn.Principal, patientID, id string, ifMatch int64, why string) (record.Document, error)
	OpenContent(ctx context.Context, actor authn.Principal, reason, patientID, id string) (record.Document, Blob, error)
	ContentLink(ctx context.Context, actor authn.Principal, reason, patientID, id string) (Link, error)

	AuditTrail(ctx context.Context, actor authn.Principal, q record.AuditQuery) (page.Page[record.AuditEvent], error)

	// Treating tells a doctor whether they treat the patient, by the rule
	// that opens the patient's records to them; the patient service asks
	// it before a doctor reads or writes the patient's history.
	Treating(ctx context.Context, actor authn.Principal, patientID string) (bool, error)
}

// EncounterView is an encounter with its addenda, oldest first.
type EncounterView struct {
	record.Encounter
	Addenda []record.Addendum
}

// EncounterUpdate is an encounter as its author sends it back: the clinical
// content, and the read-only fields of the representation they read, which
// a client may send back unchanged. nil (or no addenda) means left out.
type EncounterUpdate struct {
	record.Clinical
	ID, PatientID, DoctorID *string
	Status                  *record.EncounterStatus
	CreatedAt, UpdatedAt    *time.Time
	SignedAt                *time.Time
	ErrorReason             *string
	Addenda                 []record.Addendum
	Version                 *int64
}

// Link is a short-lived URL from which the content can be fetched directly.
type Link struct {
	URL       string
	ExpiresAt time.Time
}

// EncounterRepository stores encounters, every revision of them and their
// addenda.
type EncounterRepository interface {
	// CreateEncounter stores e as its first revision, with ev, in one
	// transaction.
	CreateEncounter(ctx context.Context, e record.Encounter, ev record.AuditEvent) error
	// EncounterByID answers record.ErrNotFound for an encounter that is not
	// the patient's.
	EncounterByID(ctx context.Context, patientID, id string) (record.Encounter, error)
	// UpdateEncounter stores e, whose Version is one more than the stored
	// one, as a new revision with ev in one transaction; another stored
	// version is record.ErrStaleVersion. A signed or retracted stored
	// encounter is never overwritten: record.ErrSigned or
	// record.ErrEnteredInError, unless e only retracts a signed one. The
	// events of out go to the outbox in the same transaction.
	UpdateEncounter(ctx context.Context, e record.Encounter, ev record.AuditEvent, out ...events.Event) error
	// ListEncounters answers page.ErrCursor for a cursor it did not issue.
	ListEncounters(ctx context.Context, q record.EncounterQuery) (page.Page[record.Encounter], error)
	// EncounterRevisions returns every revision, oldest first.
	EncounterRevisions(ctx context.Context, patientID, id string) ([]record.Encounter, error)
	// AddAddendum stores a with ev in one transaction, if the encounter is
	// signed (record.ErrNotSigned otherwise).
	AddAddendum(ctx context.Context, a record.Addendum, ev record.AuditEvent) error
	Addenda(ctx context.Context, patientID, encounterID string) ([]record.Addendum, error)
	// Treats reports whether doctorID authored an encounter of the patient.
	Treats(ctx context.Context, doctorID, patientID string) (bool, error)
}

// Pending is a write made but not yet committed. Its context bounds it:
// when that ends, the write is rolled back. A Commit that fails with
// domainerr.ErrOutcomeUnknown in its error's chain may have been applied.
type Pending interface {
	Commit() error
	Rollback() error
}

// DocumentRepository stores document metadata.
type DocumentRepository interface {
	// StageDocument writes d with ev in one transaction and leaves it open:
	// the caller commits it once the content is stored, or rolls it back.
	// When d.Replaces is set, the replaced document, which must be current
	// (record.ErrNotCurrent), becomes superseded in the same transaction.
	// When d.EncounterID is set, that encounter of the patient must exist
	// (record.ErrUnknownEncounter) and not be entered-in-error
	// (record.ErrEncounterEnteredInError) when d is written and again when
	// it is committed. The open transaction holds no lock on that encounter
	// while the content is stored, so that changes of it do not wait.
	StageDocument(ctx context.Context, d record.Document, ev record.AuditEvent) (Pending, error)
	DocumentByID(ctx context.Context, patientID, id string) (record.Document, error)
	// RetractDocument marks a document entered-in-error if its stored
	// version is d.Version-1, storing d's reason and version, with ev.
	RetractDocument(ctx context.Context, d record.Document, ev record.AuditEvent) error
	ListDocuments(ctx context.Context, q record.DocumentQuery) (page.Page[record.Document], error)
	// KnownBlobKeys returns which of keys a document row names.
	KnownBlobKeys(ctx context.Context, keys []string) (map[string]bool, error)
}

// AuditRepository stores audit events; it can append and list, never change.
type AuditRepository interface {
	AppendAudit(ctx context.Context, evs ...record.AuditEvent) error
	ListAudit(ctx context.Context, q record.AuditQuery) (page.Page[record.AuditEvent], error)
}

// AuditRecorder durably records an event that is not part of a write
// transaction (reads and denials); it returns once the event is stored.
type AuditRecorder interface {
	Record(ctx context.Context, ev record.AuditEvent) error
}

// PatientRef is what the records service needs to know of a patient.
type PatientRef struct {
	ID     string
	UserID string // "" when the profile is linked to no account
	Active bool
}

// PatientDirectory tells whether a patient exists and whose account owns
// the profile; an unknown patient is record.ErrNotFound, an unreachable
// directory a domainerr.Unavailable error.
type PatientDirectory interface {
	Patient(ctx context.Context, patientID string) (PatientRef, error)
}

// Appointments asks the appointment service, on the caller's behalf: a
// doctor's appointment with a patient lets the doctor read the patient's
// records before any encounter, and open one. An unreachable service is a
// domainerr.Unavailable error.
type Appointments interface {
	// WithPatient returns the appointments with the patient the caller
	// may see that are booked, under way or fulfilled (a doctor: their own),
	// the soonest upcoming and the latest past ones, a hundred of each at
	// most.
	WithPatient(ctx context.Context, patientID string) ([]AppointmentRef, error)
	// Appointment returns an appointment the caller may see (a doctor:
	// their own), record.ErrNotFound for any other.
	Appointment(ctx context.Context, id string) (AppointmentRef, error)
}

// AppointmentRef is what records needs of an appointment.
type AppointmentRef struct {
	ID, PatientID string
	DoctorUserID  string // "" for a doctor without an account
	BookedBy      string // the user who booked it
	// Status is the appointment's FHIR status: booked, arrived,
	// checked-in, fulfilled, cancelled, noshow or entered-in-error.
	Status string
}

// happens reports whether the appointment took, takes or will take place.
func (a AppointmentRef) happens() bool {
	switch a.Status {
	case "booked", "arrived", "checked-in", "fulfilled":
		return true
	}
	return false
}

// ours reports whether the appointment is doctor's and took, takes or will
// take place.
func (a AppointmentRef) ours(doctor string) bool {
	return doctor != "" && a.DoctorUserID == doctor && a.happens()
}

// relates reports whether the appointment makes doctor a treating doctor
// of its patient: it is theirs (ours) and someone else booked it (the
// patient, or the clinic). A doctor's own booking does not count, or any
// doctor could give themselves every patient's records by booking a visit.
func (a AppointmentRef) relates(doctor string) bool {
	return a.ours(doctor) && a.BookedBy != doctor
}

// EncounterSigned is the type of the event a signing writes to the outbox
// (docs/events/records.encounter_signed.v1.json).
const EncounterSigned = "records.encounter_signed"

// Deps are what New needs.
type Deps struct {
	Encounters   EncounterRepository
	Documents    DocumentRepository
	Audit        AuditRepository
	Recorder     AuditRecorder
	Blobs        BlobStore
	Patients     PatientDirectory
	Appointments Appointments // nil: no appointment links a doctor to a patient
	Clock        clock.Clock
	NewID        func() string // nil: ids.New
	// DoctorsReadAll is the clinic policy by which every doctor may read
	// every patient's records.
	DoctorsReadAll bool
	// MaxDocumentBytes bounds an upload; 0 means DefaultMaxDocumentBytes.
	MaxDocumentBytes int64
	// LinkTTL is how long a presigned URL lives; 0 means DefaultLinkTTL.
	LinkTTL time.Duration
	// MaxUploadsPerUser bounds the uploads one user has in flight at once;
	// 0 means DefaultMaxUploadsPerUser.
	MaxUploadsPerUser int
	// Cleanups runs the removals of failed uploads after their answers;
	// nil: New makes one, which no shutdown waits for.
	Cleanups *Cleanups
}

// Defaults of Deps.
const (
	DefaultMaxDocumentBytes = 50 << 20
	DefaultLinkTTL          = 5 * time.Minute
	// DefaultMaxUploadsPerUser lets a user upload two files at once.
	DefaultMaxUploadsPerUser = 2
)

type service struct {
	Deps
	uploads *uploadSlots
}

// New returns the Service.
func New(d Deps) Service {
	if d.NewID == nil {
		d.NewID = ids.New
	}
	if d.MaxDocumentBytes <= 0 {
		d.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if d.LinkTTL <= 0 {
		d.LinkTTL = DefaultLinkTTL
	}
	if d.MaxUploadsPerUser <= 0 {
		d.MaxUploadsPerUser = DefaultMaxUploadsPerUser
	}
	if d.Cleanups == nil {
		d.Cleanups = NewCleanups(0, 0)
	}
	return &service{Deps: d, uploads: newUploadSlots(d.MaxUploadsPerUser)}
}

func (s *service) now() time.Time { return s.Clock.Now().UTC().Truncate(time.Microsecond) }

// --- access rules ------------------------------------------------------------

// relation is how the caller stands to one patient's records.
type relation struct {
	patient PatientRef
	own     bool // the patient themself
	treats  bool // a doctor treating the patient (or the clinic lets every doctor read)
	admin   bool
}

// readsClinical reports whether the relation lets the caller read clinical
// content without breaking glass.
func (r relation) readsClinical() bool { return r.own || r.treats }

// relate finds the patient and how actor stands to them.
func (s *service) relate(ctx context.Context, actor authn.Principal, patientID string) (relation, error) {
	p, err := s.Patients.Patient(ctx, patientID)
	if err != nil {
		if errors.Is(err, domainerr.NotFound) {
			// Unknown, or not the caller's to see: the same answer, audited.
			return relation{}, s.deny(ctx, actor, record.ActionRead, "patient", patientID, "", record.ErrNotFound)
		}
		return relation{}, fmt.Errorf("find patient: %w", err)
	}
	r := relation{patient: p, admin: actor.Has(authn.RoleAdmin)}
	r.own = actor.Has(authn.RolePatient) && actor.UserID != "" && p.UserID == actor.UserID
	if actor.Has(authn.RoleDoctor) && actor.UserID != "" {
		if r.treats, err = s.treats(ctx, actor.UserID, patientID); err != nil {
			return relation{}, err
		}
	}
	return r, nil
}

// treats reports whether doctor treats the patient: the clinic lets every
// doctor read, or they have an encounter with the patient, or an
// appointment someone else booked.
func (s *service) treats(ctx context.Context, doctor, patientID string) (bool, error) {
	if s.DoctorsReadAll {
		return true, nil
	}
	ok, err := s.Encounters.Treats(ctx, doctor, patientID)
	if err != nil {
		return false, fmt.Errorf("check care relation: %w", err)
	}
	if ok || s.Appointments == nil {
		return ok, nil
	}
	as, err := s.Appointments.WithPatient(ctx, patientID)
	if err != nil {
		return false, fmt.Errorf("check appointments: %w", err)
	}
	return slices.ContainsFunc(as, func(a AppointmentRef) bool { return a.relates(doctor) }), nil
}

// Treating answers a doctor only, about themself: it reveals no record
// (without the clinic's policy a patient that does not exist has no
// treating doctor; with it, every id has). Asking is not an access to the
// patient's records, so it is not audited.
func (s *service) Treating(ctx context.Context, actor authn.Principal, patientID string) (bool, error) {
	if !actor.Has(authn.RoleDoctor) || actor.UserID == "" {
		return false, record.ErrForbidden
	}
	return s.treats(ctx, actor.UserID, patientID)
}

// clinical checks that actor may read the clinical content of the patient
// in r: the patient, a treating doctor, or an administrator who gives a
// reason (break glass). It returns the reason to audit.
func (s *service) clinical(ctx context.Context, actor authn.Principal, r relation, reason string, action record.Action,
	resource, resourceID string) (string, error) {
	switch {
	case r.readsClinical():
		return "", nil
	case r.admin && reason != "":
		if err := record.ValidateReason("reason", reason); err != nil {
			return "", err
		}
		return reason, nil
	case r.admin:
		return "", s.deny(ctx, actor, action, resource, r.patient.ID, resourceID, record.ErrReasonRequired)
	}
	return "", s.deny(ctx, actor, action, resource, r.patient.ID, resourceID, record.ErrNotFound)
}

// metadata checks that actor may see the patient's document metadata: the
// patient, a treating doctor, or an administrator.
func (s *service) metadata(ctx context.Context, actor authn.Principal, r relation, action record.Action, resource, resourceID string) error {
	if r.readsClinical() || r.admin {
		return nil
	}
	return s.deny(ctx, actor, action, resource, r.patient.ID, resourceID, record.ErrNotFound)
}

// refusal is the error for a caller who may not write: one who may see the
// records learns it is forbidden, anyone else learns nothing.
func refusal(r relation) error {
	if r.readsClinical() || r.admin {
		return record.ErrForbidden
	}
	return record.ErrNotFound
}

// --- audit -------------------------------------------------------------------

func (s *service) event(ctx context.Context, actor authn.Principal, action record.Action, resource, patientID, resourceID string,
	outcome record.Outcome, reason string) record.AuditEvent {
	return record.AuditEvent{
		ID: s.NewID(), OccurredAt: s.now(), UserID: actor.UserID, Role: actor.PrimaryRole(),
		Action: action, Resource: resource, PatientID: patientID, ResourceID: resourceID,
		Outcome: outcome, RequestID: requestid.From(ctx), Reason: reason,
	}
}

// record stores an event outside a write transaction.
func (s *service) record(ctx context.Context, ev record.AuditEvent) error {
	if err := s.Recorder.Record(ctx, ev); err != nil {
		return fmt.Errorf("record audit event: %w", err)
	}
	return nil
}

// allow records a granted read.
func (s *service) allow(ctx context.Context, actor authn.Principal, action record.Action, resource, patientID, resourceID, reason string) error {
	return s.record(ctx, s.event(ctx, actor, action, resource, patientID, resourceID, record.OutcomeAllowed, reason))
}

// deny records a denial and returns err, or the recording failure.
func (s *service) deny(ctx context.Context, actor authn.Principal, action record.Action, resource, patientID, resourceID string, err error) error {
	if rerr := s.record(ctx, s.event(ctx, actor, action, resource, patientID, resourceID, record.OutcomeDenied, "")); rerr != nil {
		return rerr
	}
	return err
}

// AuditTrail lists who accessed a patient's records: for the patient and
// administrators.
func (s *service) AuditTrail(ctx context.Context, actor authn.Principal, q record.AuditQuery) (page.Page[record.AuditEvent], error) {
	r, err := s.relate(ctx, actor, q.PatientID)
	if err != nil {
		return page.Page[record.AuditEvent]{}, err
	}
	if !r.own && !r.admin {
		return page.Page[record.AuditEvent]{}, s.deny(ctx, actor, record.ActionList, record.ResourceAudit, q.PatientID, "", refusal(r))
	}
	if err := s.allow(ctx, actor, record.ActionList, record.ResourceAudit, q.PatientID, "", ""); err != nil {
		return page.Page[record.AuditEvent]{}, err
	}
	return s.Audit.ListAudit(ctx, q)
}
