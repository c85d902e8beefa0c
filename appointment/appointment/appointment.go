// Package appointment holds an appointment between a patient and a doctor,
// its FHIR R4 statuses and their legal transitions, and its domain errors.
package appointment

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/domainerr"
)

// Status is an appointment's state, named as FHIR R4 Appointment.status.
type Status string

// The statuses an appointment goes through.
const (
	Booked         Status = "booked"
	Arrived        Status = "arrived"
	CheckedIn      Status = "checked-in"
	Fulfilled      Status = "fulfilled"
	Cancelled      Status = "cancelled"
	NoShow         Status = "noshow"
	EnteredInError Status = "entered-in-error"
)

// Statuses lists every status, in the order of a visit.
var Statuses = []Status{Booked, Arrived, CheckedIn, Fulfilled, Cancelled, NoShow, EnteredInError}

// ParseStatus reads a status as clients write it.
func ParseStatus(s string) (Status, bool) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, true
		}
	}
	return "", false
}

// Occupies reports whether an appointment in this status holds its slot.
// Only a cancelled appointment or one entered in error frees it; a fulfilled
// or missed one keeps the time it had, so the past stays as it happened.
func (s Status) Occupies() bool { return s != Cancelled && s != EnteredInError }

// FreeStatuses are the statuses that do not hold a slot, for the stores.
var FreeStatuses = []Status{Cancelled, EnteredInError}

// transitions are the legal moves from each status. cancelled has its own
// use case (Cancel, with a reason); entered-in-error is reachable from
// everywhere but itself, to take back a record made by mistake.
var transitions = map[Status][]Status{
	Booked:    {Arrived, CheckedIn, Fulfilled, Cancelled, NoShow, EnteredInError},
	Arrived:   {CheckedIn, Fulfilled, Cancelled, EnteredInError},
	CheckedIn: {Fulfilled, EnteredInError},
	Fulfilled: {EnteredInError},
	Cancelled: {EnteredInError},
	NoShow:    {EnteredInError},
}

// CanMove reports whether from -> to is a legal transition.
func CanMove(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// CancellationReason is the coded reason of a cancellation.
type CancellationReason string

// The cancellation reasons.
const (
	PatientRequest CancellationReason = "patient-request"
	DoctorRequest  CancellationReason = "doctor-request"
	Clinic         CancellationReason = "clinic"
	Other          CancellationReason = "other"
)

// ParseCancellationReason reads a reason code.
func ParseCancellationReason(s string) (CancellationReason, bool) {
	switch r := CancellationReason(s); r {
	case PatientRequest, DoctorRequest, Clinic, Other:
		return r, true
	}
	return "", false
}

// Limits of the free-text fields, in characters.
const (
	MaxReasonLen = 500
	MaxNoteLen   = 500
	// MaxDoctorNameLen bounds the doctor's name kept with an appointment,
	// as the events' contract does: the doctor service's two names of up
	// to 100 characters each, joined by a space, are one longer.
	MaxDoctorNameLen = 200
)

// CheckText reports what is wrong with a free-text field of at most max
// characters, or "": valid UTF-8 without control characters but line
// breaks and tabs. NUL in particular never reaches a store: PostgreSQL
// refuses it in any text column.
func CheckText(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8 text"
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }) >= 0:
		return "must be text without control characters other than line breaks and tabs"
	case utf8.RuneCountInString(s) > max:
		return fmt.Sprintf("must be at most %d characters", max)
	}
	return ""
}

// MaxSpan bounds an appointment's length. The stores' overlap searches
// look back this far from a start, so no longer appointment may exist,
// whatever the doctor's grid says.
const MaxSpan = 24 * time.Hour

// BookingWindow bounds how far ahead an appointment may start, at booking
// and at rescheduling. The doctor service offers no slot past it and, when
// a change of a doctor's hours, zone or state would take bookings off the
// grid, looks for them a few days further (its BookingHorizon, 370 days):
// a booking past what it looks at would be stranded without a word. The two
// windows change together (doctor/service/stranding.go).
const BookingWindow = 365 * 24 * time.Hour

// Clip cuts s to at most n characters, between characters.
func Clip(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// Appointment is one booked visit. Start and End are UTC instants on the
// doctor's slot grid; the doctor's and patient's user ids say who may see it.
type Appointment struct {
	ID            string
	PatientID     string
	PatientUserID string
	DoctorID      string
	DoctorUserID  string
	DoctorName    string
	TimeZone      string
	Start         time.Time
	End           time.Time
	Status        Status
	// Reason is clinical free text: never logged, never in an event.
	Reason             string
	CancellationReason CancellationReason
	// CancellationNote is free text kept with the code; never in an event.
	CancellationNote string
	BookedBy         string
	// UpdatedBy is the user who made the last change, the booker at first:
	// a cancellation's code alone does not tell who cancelled. Empty for a
	// change made before it was recorded.
	UpdatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// Domain errors, with messages fit for clients.
var (
	ErrNotFound           = domainerr.New(domainerr.NotFound, "appointment not found")
	ErrUnauthenticated    = domainerr.New(domainerr.Unauthenticated, "a bearer token is required")
	ErrForbidden          = domainerr.New(domainerr.Forbidden, "you may not do this to the appointment")
	ErrStale              = domainerr.New(domainerr.Stale, "the appointment has changed since it was read; read it again")
	ErrNoProfile          = domainerr.New(domainerr.Forbidden, "a patient profile is required to book; create yours first")
	ErrCannotBook         = domainerr.New(domainerr.Forbidden, "only patients, doctors and administrators book appointments")
	ErrSlotTaken          = domainerr.New(domainerr.Conflict, "the slot is already booked")
	ErrNotActive          = domainerr.New(domainerr.Conflict, "the appointment is no longer booked")
	ErrBookingsUnreadable = domainerr.New(domainerr.Unavailable, "bookings cannot be read now; try again shortly")
	// ErrKeyReused is a known Idempotency-Key sent with another request;
	// the transport answers it 422.
	ErrKeyReused = domainerr.New(domainerr.Invalid, "the Idempotency-Key was used with a different request")
)

// SlotTaken is the conflict naming the slot that cannot be had.
func SlotTaken(start, end time.Time) error {
	return domainerr.New(domainerr.Conflict, fmt.Sprintf("the slot %s to %s is already booked with this doctor",
		start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)))
}

// ErrTooManyActive: the patient already holds as many active future
// appointments as allowed (Repository.Book); the service answers it with
// TooManyActive.
var ErrTooManyActive = domainerr.New(domainerr.Conflict, "the patient holds too many upcoming appointments")

// TooManyActive is the conflict naming the cap on a patient's active
// future appointments.
func TooManyActive(max int) error {
	return domainerr.New(domainerr.Conflict, fmt.Sprintf("a patient may hold at most %d upcoming appointments at once; cancel one first", max))
}

// ErrPatientBusy: the patient already holds another active appointment
// (booked, arrived, checked-in), with any doctor, whose time overlaps the
// one asked for (Repository.Book, Repository.Reschedule). A patient cannot
// be in two rooms at once. The message names neither the other appointment
// nor its doctor: the caller may be a doctor who may not see it.
var ErrPatientBusy = domainerr.New(domainerr.Conflict, "the patient already has an appointment at that time")

// PatientBusy is the conflict naming the time the patient is not free
// at, and only that.
func PatientBusy(start, end time.Time) error {
	return domainerr.New(domainerr.Conflict, fmt.Sprintf("the patient already has an appointment at that time (%s to %s)",
		start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339)))
}

// IllegalTransition is the conflict of a move the status does not allow.
func IllegalTransition(from, to Status) error {
	return domainerr.New(domainerr.Conflict, fmt.Sprintf("an appointment that is %s cannot become %s", from, to))
}

// WaitlistEntry is a patient waiting for a slot of a doctor on one of the
// doctor's local dates. When a slot of that day is freed, the first entry
// is offered it (appointment.slot_freed) and leaves the list.
type WaitlistEntry struct {
	ID            string
	DoctorID      string
	Day           string // YYYY-MM-DD in the doctor's time zone
	PatientID     string
	PatientUserID string
	CreatedAt     time.Time
	// DayFrom and DayUntil bound Day as an interval of instants, read in
	// TimeZone, the doctor's zone when the patient joined: a slot is for
	// the entry when it starts within [DayFrom, DayUntil). All three are
	// zero for entries stored before they were kept.
	DayFrom, DayUntil time.Time
	TimeZone          string
}

// MaxWaitlistEntries bounds the entries one patient holds at once.
const MaxWaitlistEntries = 20

// Waitlist errors.
var (
	ErrAlreadyWaiting   = domainerr.New(domainerr.Conflict, "you are already on this doctor's waitlist for that day")
	ErrWaitlistFull     = domainerr.New(domainerr.Conflict, fmt.Sprintf("a patient may wait for at most %d days at once; leave one first", MaxWaitlistEntries))
	ErrWaitlistNotFound = domainerr.New(domainerr.NotFound, "waitlist entry not found")
	// ErrPatientInactive: the patient service said the patient's record is
	// inactive; such a patient books nothing and waits for nothing.
	ErrPatientInactive = domainerr.New(domainerr.Invalid, "the patient's record is inactive")
)
