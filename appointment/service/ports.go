// Package service holds the appointment service's use cases behind the
// Service interface, the ports they need (the store, the doctor and patient
// directories), and the decorator that logs and instruments them.
package service

import (
	"context"
	"fmt"
	"time"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/page"
)

// Repository stores appointments, their events (outbox), the answers to
// idempotent bookings and the audit trail. Every write stores its events
// and its audit event in its transaction; an audit event whose ID is empty
// is none.
type Repository interface {
	AuditRepository
	// Book stores a new appointment. The database refuses a second
	// appointment holding an overlapping time of the same doctor:
	// appointment.ErrSlotTaken. With o.Key set, the key is stored in the
	// same transaction; a key already stored (and not expired) fails with
	// ErrKeyUsed. With o.MaxActive set, a patient who already holds that
	// many active appointments ending after o.Now is refused with
	// appointment.ErrTooManyActive, counted so that concurrent bookings of
	// one patient cannot pass the cap together. With o.NoPatientOverlap
	// set, a time overlapping another active appointment of the patient
	// (booked, arrived, checked-in; with any doctor) is refused with
	// appointment.ErrPatientBusy, checked so that concurrent bookings of
	// one patient cannot take overlapping times together.
	Book(ctx context.Context, a appointment.Appointment, o BookOptions, evs ...events.Event) error
	// Get fails with appointment.ErrNotFound.
	Get(ctx context.Context, id string) (appointment.Appointment, error)
	// Update replaces the appointment's mutable fields (times and the
	// doctor's zone they were checked in, status, cancellation, who changed it) when its version is still
	// expectedVersion; a.Version is the new version. appointment.ErrStale,
	// ErrNotFound, ErrSlotTaken (a new time that overlaps another
	// appointment of the doctor). audit is stored in the same transaction.
	Update(ctx context.Context, a appointment.Appointment, expectedVersion int64, audit appointment.AuditEvent, evs ...events.Event) error
	// UpdateAndOffer is Update for a change that frees the appointment's
	// former time: in the same transaction the first entry of the doctor's
	// waitlist whose day holds offer.Start (one stored without its day's
	// bounds: whose day is offer.Day), if any, leaves the list and offer.Event's
	// event and offer.Audit's audit event are written. Entries of a patient
	// recorded inactive (Tx.SetPatientStatus) are passed over.
	UpdateAndOffer(ctx context.Context, a appointment.Appointment, expectedVersion int64, audit appointment.AuditEvent, offer Offer,
		evs ...events.Event) error
	// Reschedule is Update (UpdateAndOffer when o.Offer is set) for a
	// move of a to a new time. With o.NoPatientOverlap set, a new time
	// overlapping another active appointment of a's patient (a itself
	// left out) is refused with appointment.ErrPatientBusy, as Book
	// refuses it, under the same concurrency.
	Reschedule(ctx context.Context, a appointment.Appointment, expectedVersion int64, o RescheduleOptions, evs ...events.Event) error
	// JoinWaitlist stores e, with its day's bounds and zone when set, for a patient the patient service answered
	// active at seen.Version: a *PatientInactiveError
	// (appointment.ErrPatientInactive) for a patient recorded inactive
	// (Tx.SetPatientStatus) at seen.Version or above, a deactivation
	// applied since the answer, or at any version when seen.Version is 0;
	// a patient still recorded inactive at exactly seen.Disowned is
	// recorded active at seen.Version instead, in the same transaction.
	// appointment.ErrAlreadyWaiting, appointment.ErrWaitlistFull when the
	// patient already holds appointment.MaxWaitlistEntries entries for
	// since or later days, counted so that concurrent requests of one
	// patient cannot pass the cap together. Entries for days before since
	// have passed and do not count. audit is stored in the same transaction.
	JoinWaitlist(ctx context.Context, e appointment.WaitlistEntry, seen PatientSeen, since civil.Date, audit appointment.AuditEvent) error
	// Waitlist returns the patient user's entries for since or later days,
	// oldest first.
	Waitlist(ctx context.Context, patientUserID string, since civil.Date) ([]appointment.WaitlistEntry, error)
	// PurgeWaitlist deletes the entries for days before before, returning
	// how many.
	PurgeWaitlist(ctx context.Context, before civil.Date) (int64, error)
	// WaitlistEntry returns an entry, whoever's it is:
	// appointment.ErrWaitlistNotFound.
	WaitlistEntry(ctx context.Context, id string) (appointment.WaitlistEntry, error)
	// LeaveWaitlist deletes the patient user's entry, storing audit in the
	// same transaction: appointment.ErrWaitlistNotFound.
	LeaveWaitlist(ctx context.Context, patientUserID, id string, audit appointment.AuditEvent) error
	// List returns up to q.Limit appointments matching q in q's order.
	List(ctx context.Context, q Query) ([]appointment.Appointment, error)
	// Taken returns the times held by the doctor's appointments that
	// overlap [from, to).
	Taken(ctx context.Context, doctorID string, from, to time.Time) ([]Range, error)
	// IdempotentBooking returns what a stored key answered; ErrKeyUnknown.
	IdempotentBooking(ctx context.Context, userID, key string) (IdempotencyRecord, error)
	// PurgeKeys deletes the keys stored before before, returning how many.
	PurgeKeys(ctx context.Context, before time.Time) (int64, error)
	// Apply claims the consumed event ev (its id, at now) and runs fn in
	// the same transaction. When ev was claimed before, fn does not run and
	// Apply reports false; when fn fails, the claim is undone with the rest,
	// so that a redelivery tries again.
	Apply(ctx context.Context, ev events.Event, now time.Time, fn func(ctx context.Context, tx Tx) error) (bool, error)
}

// Tx is the repository inside the transaction of one consumed event.
type Tx interface {
	// Get fails with appointment.ErrNotFound.
	Get(ctx context.Context, id string) (appointment.Appointment, error)
	// Update is Repository.Update inside the transaction.
	Update(ctx context.Context, a appointment.Appointment, expectedVersion int64, audit appointment.AuditEvent, evs ...events.Event) error
	// SetPatientStatus records that the patient service holds the
	// patient's record active or not at version, and reports true; a
	// version not above the one recorded changes nothing and reports
	// false. While a patient is recorded inactive, UpdateAndOffer offers
	// none of their entries and JoinWaitlist refuses them with
	// appointment.ErrPatientInactive.
	SetPatientStatus(ctx context.Context, patientID string, active bool, version int64, at time.Time) (bool, error)
	// RemoveWaits deletes every waitlist entry of the patient, storing
	// audit(e) for each, and returns them (none: nothing is written).
	RemoveWaits(ctx context.Context, patientID string, audit func(e appointment.WaitlistEntry) appointment.AuditEvent) (
		[]appointment.WaitlistEntry, error)
}

// AuditRepository stores audit events; it can append and list, never change.
type AuditRepository interface {
	// AppendAudit stores events outside any transaction, returning once
	// they are committed.
	AppendAudit(ctx context.Context, evs ...appointment.AuditEvent) error
	// ListAudit returns a patient's events, newest first; page.ErrCursor
	// for a cursor it did not issue.
	ListAudit(ctx context.Context, q appointment.AuditQuery) (page.Page[appointment.AuditEvent], error)
}

// AuditRecorder durably records an event that is not part of a write
// transaction (reads and denials); it returns once the event is stored.
type AuditRecorder interface {
	Record(ctx context.Context, ev appointment.AuditEvent) error
}

// Offer describes a freed time to offer to the doctor's waitlist: Start is
// the time's start, Day its local day in the zone stored with the
// appointment, for entries stored without their day's bounds; PatientID is
// the patient who held the time, whose own waits are passed over and stay on
// the list; Event builds the event for the entry
// that gets it, Audit the audit event of its leaving the list.
type Offer struct {
	DoctorID  string
	Start     time.Time
	Day       string
	PatientID string
	Event     func(e appointment.WaitlistEntry) (events.Event, error)
	Audit     func(e appointment.WaitlistEntry) appointment.AuditEvent
}

// BookOptions go with a booking: its Idempotency-Key, the cap on the
// patient's active appointments (0: none), whether the patient must be free
// at its time, and its audit event.
type BookOptions struct {
	Key       *IdempotencyKey
	MaxActive int
	// Now: appointments ending after it count towards MaxActive.
	Now time.Time
	// NoPatientOverlap: the patient may not hold another active
	// appointment overlapping the new one (false: an administrator's
	// booking, which may, as it may pass MaxActive).
	NoPatientOverlap bool
	Audit            appointment.AuditEvent
}

// RescheduleOptions go with a move: its audit event, the offer of the
// freed time to the waitlist (nil: none) and whether the patient must be
// free at the new time.
type RescheduleOptions struct {
	Audit appointment.AuditEvent
	Offer *Offer
	// NoPatientOverlap: the new time may not overlap another active
	// appointment of the patient (an administrator's move may).
	NoPatientOverlap bool
}

// IdempotencyKey is a client's Idempotency-Key with what it answered.
type IdempotencyKey struct {
	UserID      string
	Key         string
	RequestHash string
	CreatedAt   time.Time
	// ExpiredBefore: a key of the same name stored before this instant is
	// past its retention; Book replaces it.
	ExpiredBefore time.Time
}

// IdempotencyRecord is a stored key: the hash of its request, the
// appointment it booked and when it was stored.
type IdempotencyRecord struct {
	RequestHash   string
	AppointmentID string
	CreatedAt     time.Time
}

// Range is a span of time, End excluded.
type Range struct {
	Start time.Time
	End   time.Time
}

// Order of a list.
type Order int

// The orders of a list: by start, then id.
const (
	Ascending Order = iota
	Descending
)

// Query selects appointments. Empty fields do not filter.
type Query struct {
	PatientUserID string
	DoctorUserID  string
	// ParticipantUserID keeps the appointments the user is the doctor or
	// the patient of: a doctor who is also a patient.
	ParticipantUserID string
	PatientID         string
	DoctorID          string
	Statuses          []appointment.Status
	// StartFrom and StartBefore bound the start: StartFrom <= start < StartBefore.
	StartFrom   *time.Time
	StartBefore *time.Time
	// EndAfter keeps appointments ending after it; EndNotAfter those ending
	// at or before it.
	EndAfter    *time.Time
	EndNotAfter *time.Time
	Order       Order
	After       *Cursor
	Limit       int
}

// Cursor is a position in a list: the last appointment shown.
type Cursor struct {
	Start time.Time `json:"s"`
	ID    string    `json:"i"`
}

// Doctor is what the appointment service needs to know of a doctor.
type Doctor struct {
	ID       string
	UserID   string
	Name     string
	TimeZone string
	Active   bool
}

// SlotCheck is the doctor directory's answer about a time: the doctor,
// and whether [start, end) is one slot of their published availability.
type SlotCheck struct {
	Doctor Doctor
	OnGrid bool
}

// Doctors reads the doctor service. It never asks which times are taken:
// the booking check reads the availability grid only, so that the doctor
// service, which asks this service for taken times, is never called back.
type Doctors interface {
	// CheckSlot answers for [start, end) of the doctor; ErrUnknownDoctor.
	CheckSlot(ctx context.Context, doctorID string, start, end time.Time) (SlotCheck, error)
	// Me is the doctor profile of the calling doctor; ErrUnknownDoctor.
	Me(ctx context.Context) (Doctor, error)
	// Get is a doctor's profile; ErrUnknownDoctor.
	Get(ctx context.Context, doctorID string) (Doctor, error)
}

// Patient is what the appointment service needs to know of a patient.
type Patient struct {
	ID     string
	UserID string
	Active bool
	// Version is the record's version as the patient service answered
	// it, the one its events carry; 0 when it did not say.
	Version int64
}

// PatientSeen is what the patient service answered of a patient joining a
// waitlist, for the repository to weigh against what its events said.
type PatientSeen struct {
	// Version is the version at which the record was answered active.
	Version int64
	// Disowned, when not 0, is an inactive version recorded above the one
	// the patient service answered when asked after it was read: versions
	// only grow, so the patient service never gave it (a forged or
	// mistaken event), and a status still recorded at it is corrected.
	Disowned int64
}

// PatientInactiveError is JoinWaitlist's refusal of a patient recorded
// inactive, at Version.
type PatientInactiveError struct{ Version int64 }

func (e *PatientInactiveError) Error() string {
	return fmt.Sprintf("%v (recorded at version %d)", appointment.ErrPatientInactive, e.Version)
}

func (e *PatientInactiveError) Unwrap() error { return appointment.ErrPatientInactive }

// Patients reads the patient service on the caller's behalf.
type Patients interface {
	// Me is the calling patient's profile; ErrUnknownPatient when they have none.
	Me(ctx context.Context) (Patient, error)
	// Get is a patient's profile; ErrUnknownPatient.
	Get(ctx context.Context, patientID string) (Patient, error)
}
