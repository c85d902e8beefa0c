package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-kit/log"

	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
)

// Errors of the ports.
var (
	// ErrKeyUsed: the Idempotency-Key is stored already (Repository.Book).
	ErrKeyUsed = errors.New("idempotency key already stored")
	// ErrKeyUnknown: no such stored key (Repository.IdempotentBooking).
	ErrKeyUnknown = errors.New("idempotency key unknown")
	// ErrUnknownDoctor: the doctor directory has no such doctor.
	ErrUnknownDoctor = errors.New("unknown doctor")
	// ErrUnknownPatient: the patient directory has no such patient, or not
	// one the caller may see.
	ErrUnknownPatient = errors.New("unknown patient")
)

// Bounds of requests.
const (
	// MaxKeyLen bounds an Idempotency-Key.
	MaxKeyLen = 255
	// MaxTakenDays bounds the window of a taken-times request.
	MaxTakenDays = 40
	// MaxAgendaDays bounds the dates of one agenda request (a week).
	MaxAgendaDays = 7
	// DefaultCancelNotice is how long before its start a patient may still
	// cancel or move an appointment.
	DefaultCancelNotice = 24 * time.Hour
	// DefaultKeyRetention is how long an Idempotency-Key answers retries.
	DefaultKeyRetention = 24 * time.Hour
	// DefaultMaxActivePerPatient caps a patient's active future
	// appointments, so that nobody hoards a doctor's slots.
	DefaultMaxActivePerPatient = 10
)

// Service is the appointment service's use cases. Every method takes the
// caller right after the context and checks what they may do. Actions on an
// appointment take the version the client read (If-Match), 0 for any.
type Service interface {
	Book(ctx context.Context, actor authn.Principal, in BookInput) (BookResult, error)
	Get(ctx context.Context, actor authn.Principal, id string) (appointment.Appointment, error)
	List(ctx context.Context, actor authn.Principal, in ListInput) (page.Page[appointment.Appointment], error)
	Reschedule(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in RescheduleInput) (appointment.Appointment, error)
	Cancel(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in CancelInput) (appointment.Appointment, error)
	ChangeStatus(ctx context.Context, actor authn.Principal, id string, ifMatch int64, status string) (appointment.Appointment, error)
	Taken(ctx context.Context, actor authn.Principal, doctorID, from, to string) ([]Range, error)

	// The waitlist: a patient waits for a slot of a doctor on a day; when
	// one is freed, the first waiting patient is offered it.
	JoinWaitlist(ctx context.Context, actor authn.Principal, in WaitlistInput) (appointment.WaitlistEntry, error)
	MyWaitlist(ctx context.Context, actor authn.Principal) ([]appointment.WaitlistEntry, error)
	// WaitlistEntry is one of the caller's entries, as MyWaitlist lists it.
	WaitlistEntry(ctx context.Context, actor authn.Principal, id string) (appointment.WaitlistEntry, error)
	LeaveWaitlist(ctx context.Context, actor authn.Principal, id string) error

	// AuditTrail lists who read, changed or was refused a patient's
	// appointments and waitlist entries: for the patient and
	// administrators.
	AuditTrail(ctx context.Context, actor authn.Principal, q appointment.AuditQuery) (page.Page[appointment.AuditEvent], error)

	// HandleEvent applies one consumed event once, however often it is
	// delivered; an error wrapping ErrMalformed is one no retry can cure.
	HandleEvent(ctx context.Context, ev events.Event) error
}

// BookInput is a booking as a client writes it. PatientID is required from
// staff and optional (their own) from a patient.
type BookInput struct {
	DoctorID       string
	PatientID      string
	Start          string
	End            string
	Reason         string
	IdempotencyKey string
}

// BookResult is the booked appointment; Replayed tells a retry answered
// from its Idempotency-Key.
type BookResult struct {
	Appointment appointment.Appointment
	Replayed    bool
}

// RescheduleInput is the new time of an appointment.
type RescheduleInput struct {
	Start string
	End   string
}

// CancelInput is a cancellation: a reason code and optional free text.
type CancelInput struct {
	Reason string
	Note   string
}

// ListInput holds the query parameters of a list.
type ListInput struct {
	// When is "upcoming" (the default without Date) or "past".
	When string
	// Date and Days select Days local days (1-7) from Date, in the doctor's
	// time zone.
	Date      string
	Days      int
	DoctorID  string
	PatientID string
	Status    string
	Limit     int
	Cursor    string
}

// Options tune the service.
type Options struct {
	// CancelNotice: a patient may not cancel or move an appointment that
	// starts sooner than this. Staff are exempt. Zero is a clinic's choice
	// too, no notice (until the start), so it is not read as unset: the
	// caller passes DefaultCancelNotice for the usual rule.
	CancelNotice time.Duration
	// KeyRetention: how long an Idempotency-Key answers retries; zero
	// takes DefaultKeyRetention (a key kept no time would answer nothing).
	KeyRetention time.Duration
	// MaxActivePerPatient caps the appointments a patient holds that have
	// not ended (booked, arrived, checked-in), whoever booked them. A
	// patient's or a doctor's booking past it is refused; an administrator
	// may exceed it.
	MaxActivePerPatient int
	// Logger records the consumed events the service passes over (a link
	// it does not trust, an appointment it cannot change) and the freed
	// slots offered without the doctor service's answer; ids only, never
	// clinical detail. nil logs nothing.
	Logger log.Logger
	// Audit records the events of reads and denials, each stored before
	// the request is answered (auditlog.Batcher in production). nil: each
	// is written alone through the repository.
	Audit AuditRecorder
}

type service struct {
	repo     Repository
	doctors  Doctors
	patients Patients
	clock    clock.Clock
	newID    func() string
	opts     Options
	recorder AuditRecorder
}

// New returns the service. newID makes resource IDs (ids.New in production).
func New(repo Repository, doctors Doctors, patients Patients, clk clock.Clock, newID func() string, o Options) Service {
	if o.KeyRetention == 0 {
		o.KeyRetention = DefaultKeyRetention
	}
	if o.MaxActivePerPatient == 0 {
		o.MaxActivePerPatient = DefaultMaxActivePerPatient
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	rec := o.Audit
	if rec == nil {
		rec = appendOne{repo}
	}
	return &service{repo: repo, doctors: doctors, patients: patients, clock: clk, newID: newID, opts: o, recorder: rec}
}

// now is the service's time at the precision every database keeps.
func (s *service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// --- who may do what --------------------------------------------------------

func isAdmin(a authn.Principal) bool  { return a.Has(authn.RoleAdmin) }
func isDoctor(a authn.Principal) bool { return a.Has(authn.RoleDoctor) && !isAdmin(a) }
func isStaff(a authn.Principal) bool  { return a.HasAny(authn.RoleAdmin, authn.RoleDoctor) }

func authenticated(a authn.Principal) error {
	if a.UserID == "" {
		return appointment.ErrUnauthenticated
	}
	return nil
}

// visible reports whether actor may see ap: an administrator, the doctor
// of the appointment, or its patient. Anyone else learns nothing of it.
func visible(actor authn.Principal, ap appointment.Appointment) bool {
	switch {
	case isAdmin(actor):
		return true
	case actor.Has(authn.RoleDoctor) && ap.DoctorUserID != "" && ap.DoctorUserID == actor.UserID:
		return true
	case actor.Has(authn.RolePatient) && ap.PatientUserID != "" && ap.PatientUserID == actor.UserID:
		return true
	}
	return false
}

// staffOf reports whether actor acts on ap as staff: an administrator or
// its doctor. Staff are exempt from the notice period.
func staffOf(actor authn.Principal, ap appointment.Appointment) bool {
	return isAdmin(actor) || (actor.Has(authn.RoleDoctor) && ap.DoctorUserID != "" && ap.DoctorUserID == actor.UserID)
}

// load fetches an appointment actor may see for action; others are not
// found, and the refusal is on the patient's trail.
func (s *service) load(ctx context.Context, actor authn.Principal, id string, action appointment.Action) (appointment.Appointment, error) {
	if err := authenticated(actor); err != nil {
		return appointment.Appointment{}, err
	}
	cid, ok := ids.Canonical(id)
	if !ok {
		return appointment.Appointment{}, domainerr.Field("id", "must be a UUID")
	}
	ap, err := s.repo.Get(ctx, cid)
	if err != nil {
		return appointment.Appointment{}, err
	}
	if !visible(actor, ap) {
		return appointment.Appointment{}, s.deny(ctx, actor, action, ap, appointment.ErrNotFound)
	}
	return ap, nil
}

// --- parsing ----------------------------------------------------------------

// Instants and dates a client may name lie in [minTime, maxTime): every
// database keeps them (MariaDB's DATETIME starts in the year 1000) with a
// day's margin either side, which the stores' overlap searches take.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
)

const timeRange = "must lie between the years 1970 and 9000"

func parseInstant(fe *domainerr.FieldErrors, field, v string) (time.Time, bool) {
	if v == "" {
		fe.Add(field, "is required (an RFC 3339 instant)")
		return time.Time{}, false
	}
	t, err := civil.ParseInstant(v)
	if err != nil {
		fe.Add(field, "must be an RFC 3339 instant such as 2027-03-15T13:00:00Z")
		return time.Time{}, false
	}
	if t.Before(minTime) || !t.Before(maxTime) {
		fe.Add(field, timeRange)
		return time.Time{}, false
	}
	return t.UTC(), true
}

// inRange reports whether the local date d lies in the range clients may name.
func inRange(d civil.Date) bool {
	return !d.Before(civil.Of(minTime)) && d.Before(civil.Of(maxTime))
}

// parseSlotInstant is parseInstant for the bounds of a slot, which must be
// whole seconds: the doctor's grid is, and a fraction would store a time
// just off it that holds the slots on either side.
func parseSlotInstant(fe *domainerr.FieldErrors, field, v string) (time.Time, bool) {
	t, ok := parseInstant(fe, field, v)
	if ok && t.Nanosecond() != 0 {
		fe.Add(field, "must be whole seconds, without a fraction, such as 2027-03-15T13:00:00Z")
		return t, false
	}
	return t, ok
}

// parseSlot reads start and end, which must be a future span starting
// within appointment.BookingWindow.
func (s *service) parseSlot(fe *domainerr.FieldErrors, startS, endS string) (time.Time, time.Time, bool) {
	start, okS := parseSlotInstant(fe, "start", startS)
	end, okE := parseSlotInstant(fe, "end", endS)
	if !okS || !okE {
		return start, end, false
	}
	ok := true
	switch {
	case !end.After(start):
		fe.Add("end", "must be after start")
		ok = false
	case end.Sub(start) > appointment.MaxSpan:
		fe.Add("end", "must be at most 24 hours after start")
		ok = false
	}
	switch now := s.clock.Now(); {
	case !start.After(now):
		fe.Add("start", "must be in the future")
		ok = false
	case start.After(now.Add(appointment.BookingWindow)):
		fe.Add("start", "must be at most 365 days ahead")
		ok = false
	}
	return start, end, ok
}

func validKey(k string) bool {
	if k == "" || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestHash identifies a booking request, so that a key sent again with
// another request is recognized. It hashes the values as the service reads
// them (canonical ids, instants in UTC), so that a retry writing the same
// booking another way (upper-case ids, another offset) is the same request.
// A request already written that way hashes as rawRequestHash does.
func requestHash(doctorID, patientID string, start, end time.Time, reason string) string {
	// Instants are whole seconds, so RFC 3339 without a fraction loses nothing.
	return hashFields(doctorID, patientID, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), reason)
}

// rawRequestHash is the hash of the request as written, which keys stored
// before requestHash normalised were stored with: an identical retry of
// such a booking still matches it within the key's retention.
func rawRequestHash(in BookInput) string {
	return hashFields(in.DoctorID, in.PatientID, in.Start, in.End, in.Reason)
}

func hashFields(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// --- use cases --------------------------------------------------------------

func (s *service) Book(ctx context.Context, actor authn.Principal, in BookInput) (BookResult, error) {
	if err := authenticated(actor); err != nil {
		return BookResult{}, err
	}
	if !actor.HasAny(authn.RoleAdmin, authn.RoleDoctor, authn.RolePatient) {
		return BookResult{}, s.deny(ctx, actor, appointment.ActionBook, appointment.Appointment{}, appointment.ErrCannotBook)
	}
	var fe domainerr.FieldErrors
	doctorID, ok := ids.Canonical(in.DoctorID)
	if !ok {
		if in.DoctorID == "" {
			fe.Add("doctorId", "is required")
		} else {
			fe.Add("doctorId", "must be a UUID")
		}
	}
	patientID := ""
	if in.PatientID != "" {
		if patientID, ok = ids.Canonical(in.PatientID); !ok {
			fe.Add("patientId", "must be a UUID")
		}
	} else if isStaff(actor) && !actor.Has(authn.RolePatient) {
		// One who is also a patient and names nobody books their own care.
		fe.Add("patientId", "is required when staff book for a patient")
	}
	start, end, _ := s.parseSlot(&fe, in.Start, in.End)
	if msg := appointment.CheckText(in.Reason, appointment.MaxReasonLen); msg != "" {
		fe.Add("reason", msg)
	}
	if in.IdempotencyKey != "" && !validKey(in.IdempotencyKey) {
		fe.Add("Idempotency-Key", fmt.Sprintf("must be 1 to %d visible ASCII characters", MaxKeyLen))
	}
	if err := fe.Err(); err != nil {
		return BookResult{}, err
	}

	var (
		key *IdempotencyKey
		raw string
	)
	if in.IdempotencyKey != "" {
		now := s.now()
		key = &IdempotencyKey{UserID: actor.UserID, Key: in.IdempotencyKey, RequestHash: requestHash(doctorID, patientID, start, end, in.Reason),
			CreatedAt: now, ExpiredBefore: now.Add(-s.opts.KeyRetention)}
		raw = rawRequestHash(in)
		if res, done, err := s.replay(ctx, actor, key, raw); done || err != nil {
			return res, err
		}
	}

	// The two directories answer independently: ask both at once.
	slotCh := s.checkSlot(ctx, doctorID, start, end)
	pat, err := s.bookingPatient(ctx, actor, patientID)
	answer := <-slotCh
	if err != nil {
		return BookResult{}, err
	}
	check, err := answer.check, answer.err
	switch {
	case errors.Is(err, ErrUnknownDoctor):
		return BookResult{}, domainerr.Field("doctorId", "no such doctor")
	case err != nil:
		return BookResult{}, fmt.Errorf("check slot: %w", err)
	}
	doc := check.Doctor
	// A doctor books for a patient only with themselves; one who is also a
	// patient may book their own care with any doctor.
	own := actor.Has(authn.RolePatient) && pat.UserID != "" && pat.UserID == actor.UserID
	if isDoctor(actor) && doc.UserID != actor.UserID && !own {
		return BookResult{}, s.deny(ctx, actor, appointment.ActionBook, appointment.Appointment{PatientID: pat.ID},
			domainerr.New(domainerr.Forbidden, "a doctor books follow-ups with themselves only"))
	}
	if !doc.Active {
		return BookResult{}, domainerr.Field("doctorId", "the doctor does not take appointments")
	}
	if !check.OnGrid {
		return BookResult{}, domainerr.Field("start", "start and end are not a slot of the doctor's published availability")
	}

	now := s.now()
	ap := appointment.Appointment{
		ID: s.newID(), PatientID: pat.ID, PatientUserID: pat.UserID,
		DoctorID: doc.ID, DoctorUserID: doc.UserID, DoctorName: appointment.Clip(doc.Name, appointment.MaxDoctorNameLen),
		TimeZone: doc.TimeZone, Start: start, End: end, Status: appointment.Booked, Reason: in.Reason,
		BookedBy: actor.UserID, UpdatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	ev, err := newEvent(TypeBooked, ap, now, nil)
	if err != nil {
		return BookResult{}, err
	}
	o := BookOptions{Key: key, Now: now, Audit: s.event(ctx, actor, appointment.ActionBook, ap, appointment.OutcomeAllowed)}
	if !isAdmin(actor) {
		// An administrator may book past both: a course of treatment, a
		// joint consultation, is the clinic's decision.
		o.MaxActive = s.opts.MaxActivePerPatient
		o.NoPatientOverlap = true
	}
	err = s.repo.Book(ctx, ap, o, ev)
	switch {
	case errors.Is(err, appointment.ErrSlotTaken):
		return BookResult{}, appointment.SlotTaken(start, end)
	case errors.Is(err, appointment.ErrPatientBusy):
		return BookResult{}, s.denyOthers(ctx, actor, appointment.ActionBook, appointment.Appointment{PatientID: pat.ID, PatientUserID: pat.UserID},
			appointment.PatientBusy(start, end))
	case errors.Is(err, appointment.ErrTooManyActive):
		return BookResult{}, s.denyOthers(ctx, actor, appointment.ActionBook, appointment.Appointment{PatientID: pat.ID, PatientUserID: pat.UserID},
			appointment.TooManyActive(o.MaxActive))
	case errors.Is(err, ErrKeyUsed):
		// A concurrent request with the same key won the race.
		res, done, err := s.replay(ctx, actor, key, raw)
		if err == nil && !done {
			err = fmt.Errorf("idempotency key vanished after a conflict")
		}
		return res, err
	case err != nil:
		return BookResult{}, err
	}
	return BookResult{Appointment: ap}, nil
}

// slotAnswer is the doctor directory's answer to a slot check.
type slotAnswer struct {
	check SlotCheck
	err   error
}

// checkSlot asks the doctor directory about [start, end) of the doctor
// without waiting: the answer comes on the channel, so that the patient
// directory is asked meanwhile.
func (s *service) checkSlot(ctx context.Context, doctorID string, start, end time.Time) <-chan slotAnswer {
	ch := make(chan slotAnswer, 1)
	go func() {
		c, err := s.doctors.CheckSlot(ctx, doctorID, start, end)
		ch <- slotAnswer{c, err}
	}()
	return ch
}

// replay answers a booking whose key is stored: the appointment it made, or
// ErrKeyReused when the request differs. done is false for an unknown key.
// raw is the request's rawRequestHash, which a key stored before hashes
// were normalised holds for the identical request.
func (s *service) replay(ctx context.Context, actor authn.Principal, key *IdempotencyKey, raw string) (BookResult, bool, error) {
	rec, err := s.repo.IdempotentBooking(ctx, key.UserID, key.Key)
	switch {
	case errors.Is(err, ErrKeyUnknown):
		return BookResult{}, false, nil
	case err != nil:
		return BookResult{}, true, err
	case rec.CreatedAt.Before(key.ExpiredBefore):
		// Past its retention, a key is gone even before the purge removes
		// it: the booking stores it anew.
		return BookResult{}, false, nil
	}
	if rec.RequestHash != key.RequestHash && rec.RequestHash != raw {
		return BookResult{}, true, appointment.ErrKeyReused
	}
	ap, err := s.repo.Get(ctx, rec.AppointmentID)
	if err != nil {
		return BookResult{}, true, err
	}
	// The key is the caller's, but what the appointment holds now is
	// answered only to one who may see it now, as GET answers it: a booker
	// who lost the role or the link that let them book gets GET's 404.
	if !visible(actor, ap) {
		return BookResult{}, true, s.deny(ctx, actor, appointment.ActionBook, ap, appointment.ErrNotFound)
	}
	// The answer of the booking again, and the request on record again,
	// though nothing is written.
	if err := s.record(ctx, s.event(ctx, actor, appointment.ActionBook, ap, appointment.OutcomeAllowed)); err != nil {
		return BookResult{}, true, err
	}
	return BookResult{Appointment: ap, Replayed: true}, true, nil
}

// bookingPatient resolves the patient of a booking: the given one for
// staff, the caller's own profile for a patient, and for staff who are also
// patients when they give none.
func (s *service) bookingPatient(ctx context.Context, actor authn.Principal, patientID string) (Patient, error) {
	var (
		p   Patient
		err error
	)
	if isStaff(actor) && patientID != "" {
		p, err = s.patients.Get(ctx, patientID)
		if errors.Is(err, ErrUnknownPatient) {
			return Patient{}, domainerr.Field("patientId", "no such patient")
		}
	} else {
		p, err = s.patients.Me(ctx)
		if errors.Is(err, ErrUnknownPatient) {
			return Patient{}, appointment.ErrNoProfile
		}
		if err == nil && patientID != "" && patientID != p.ID {
			return Patient{}, domainerr.Field("patientId", "must be your own patient id, or left out")
		}
	}
	if err != nil {
		return Patient{}, fmt.Errorf("look up patient: %w", err)
	}
	if !p.Active {
		return Patient{}, errInactivePatient()
	}
	return p, nil
}

// errInactivePatient refuses what an inactive patient may not do: book,
// move a booking or wait for a slot.
func errInactivePatient() error {
	return domainerr.Field("patientId", "the patient's record is inactive")
}

// activePatient refuses a change for the patient of patientID, as a
// booking for them would be refused, when their record is inactive.
func (s *service) activePatient(ctx context.Context, patientID string) error {
	p, err := s.patients.Get(ctx, patientID)
	switch {
	case errors.Is(err, ErrUnknownPatient):
		return domainerr.New(domainerr.Conflict, "the patient of this appointment is not known to the patient service")
	case err != nil:
		return fmt.Errorf("look up patient: %w", err)
	case !p.Active:
		return errInactivePatient()
	}
	return nil
}

func (s *service) Get(ctx context.Context, actor authn.Principal, id string) (appointment.Appointment, error) {
	ap, err := s.load(ctx, actor, id, appointment.ActionRead)
	if err != nil {
		return appointment.Appointment{}, err
	}
	if err := s.read(ctx, actor, ap); err != nil {
		return appointment.Appointment{}, err
	}
	return ap, nil
}

// errZoneUnusable answers an agenda by date, or a wait for a day, of a
// doctor whose time zone cannot be loaded here: their day has no bounds.
var errZoneUnusable = domainerr.New(domainerr.Conflict, "the doctor's time zone is not known here; the doctor's profile needs a new one")

// checkVersion compares the If-Match version, when one is given.
func checkVersion(ifMatch int64, ap appointment.Appointment) error {
	if ifMatch != 0 && ifMatch != ap.Version {
		return domainerr.StaleFor(ifMatch, appointment.ErrStale)
	}
	return nil
}

// unconditionalAttempts bounds the writes of a change sent without
// If-Match: an appointment that changes under every one of them is
// answered 412.
const unconditionalAttempts = 5

// changeUnconditionally loads the appointment and runs change on it. A
// request that named no version (ifMatch 0) asked for no precondition, so
// the 412 of one (docs/architecture.md, "HTTP conventions") must not answer
// it because another change won between change's read and its write: then
// change runs again, its checks included, on the appointment as it now is,
// as if the request had come after the other. A write that lost wrote
// nothing, its audit event neither.
func (s *service) changeUnconditionally(ctx context.Context, actor authn.Principal, id string, ifMatch int64, action appointment.Action,
	change func(cur appointment.Appointment, f *freedTime) (appointment.Appointment, error)) (appointment.Appointment, error) {
	var f freedTime
	defer f.close()
	for attempt := 1; ; attempt++ {
		cur, err := s.load(ctx, actor, id, action)
		if err != nil {
			return appointment.Appointment{}, err
		}
		next, err := change(cur, &f)
		if ifMatch != 0 || !errors.Is(err, appointment.ErrStale) || attempt >= unconditionalAttempts {
			return next, err
		}
	}
}

// checkNotice refuses a patient's change too close to the start.
func (s *service) checkNotice(actor authn.Principal, ap appointment.Appointment, what string) error {
	if staffOf(actor, ap) {
		return nil
	}
	left := ap.Start.Sub(s.clock.Now())
	if s.opts.CancelNotice == 0 && left < 0 {
		// With no notice the only bound is the start itself.
		return domainerr.New(domainerr.Conflict, fmt.Sprintf(
			"an appointment that has started may not be %s by the patient; please contact the clinic", what))
	}
	if left < s.opts.CancelNotice {
		return domainerr.New(domainerr.Conflict, fmt.Sprintf(
			"an appointment may be %s by the patient no later than %s before it starts; please contact the clinic",
			what, formatNotice(s.opts.CancelNotice)))
	}
	return nil
}

func formatNotice(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%d hours", int(d/time.Hour))
	}
	return d.String()
}

func (s *service) Reschedule(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in RescheduleInput) (appointment.Appointment, error) {
	return s.changeUnconditionally(ctx, actor, id, ifMatch, appointment.ActionReschedule, func(cur appointment.Appointment, f *freedTime) (appointment.Appointment, error) {
		return s.reschedule(ctx, actor, cur, f, ifMatch, in)
	})
}

func (s *service) reschedule(ctx context.Context, actor authn.Principal, cur appointment.Appointment, f *freedTime, ifMatch int64, in RescheduleInput) (appointment.Appointment, error) {
	if err := checkVersion(ifMatch, cur); err != nil {
		return appointment.Appointment{}, err
	}
	if cur.Status != appointment.Booked {
		return appointment.Appointment{}, domainerr.New(domainerr.Conflict,
			fmt.Sprintf("an appointment that is %s cannot be rescheduled", cur.Status))
	}
	var fe domainerr.FieldErrors
	start, end, _ := s.parseSlot(&fe, in.Start, in.End)
	if err := fe.Err(); err != nil {
		return appointment.Appointment{}, err
	}
	if err := s.checkNotice(actor, cur, "moved"); err != nil {
		return appointment.Appointment{}, err
	}
	if start.Equal(cur.Start) && end.Equal(cur.End) {
		return s.unchanged(ctx, actor, appointment.ActionReschedule, cur)
	}
	// A new slot is taken as by a booking, so the patient must still be
	// active, as the patient service says; both directories are asked at
	// once, and whether the old time can be offered to the waitlist too.
	moved := cur
	moved.Start, moved.End = start, end
	if frees(cur, moved) && cur.Start.After(s.clock.Now()) {
		s.askFreed(ctx, f, cur)
	}
	slotCh := s.checkSlot(ctx, cur.DoctorID, start, end)
	err := s.activePatient(ctx, cur.PatientID)
	answer := <-slotCh
	if err != nil {
		return appointment.Appointment{}, err
	}
	check, err := answer.check, answer.err
	switch {
	case errors.Is(err, ErrUnknownDoctor):
		return appointment.Appointment{}, domainerr.New(domainerr.Conflict, "the doctor of this appointment no longer exists")
	case err != nil:
		return appointment.Appointment{}, fmt.Errorf("check slot: %w", err)
	}
	if !check.Doctor.Active {
		return appointment.Appointment{}, domainerr.New(domainerr.Conflict, "the doctor no longer takes appointments")
	}
	if !check.OnGrid {
		return appointment.Appointment{}, domainerr.Field("start", "start and end are not a slot of the doctor's published availability")
	}
	next := cur
	// The new slot is on the grid in the doctor's zone of now.
	next.Start, next.End, next.TimeZone = start, end, check.Doctor.TimeZone
	next.UpdatedBy = actor.UserID
	next.UpdatedAt = s.now()
	next.Version = cur.Version + 1
	ev, err := newEvent(TypeRescheduled, next, next.UpdatedAt, &cur)
	if err != nil {
		return appointment.Appointment{}, err
	}
	if err := s.update(ctx, actor, appointment.ActionReschedule, cur, next, ev, f); err != nil {
		switch {
		case errors.Is(err, appointment.ErrSlotTaken):
			return appointment.Appointment{}, appointment.SlotTaken(start, end)
		case errors.Is(err, appointment.ErrPatientBusy):
			return appointment.Appointment{}, s.denyOthers(ctx, actor, appointment.ActionReschedule, cur, appointment.PatientBusy(start, end))
		}
		return appointment.Appointment{}, err
	}
	return next, nil
}

func (s *service) Cancel(ctx context.Context, actor authn.Principal, id string, ifMatch int64, in CancelInput) (appointment.Appointment, error) {
	return s.changeUnconditionally(ctx, actor, id, ifMatch, appointment.ActionCancel, func(cur appointment.Appointment, f *freedTime) (appointment.Appointment, error) {
		return s.cancel(ctx, actor, cur, f, ifMatch, in)
	})
}

func (s *service) cancel(ctx context.Context, actor authn.Principal, cur appointment.Appointment, f *freedTime, ifMatch int64, in CancelInput) (appointment.Appointment, error) {
	var fe domainerr.FieldErrors
	reason, ok := appointment.ParseCancellationReason(in.Reason)
	switch {
	case in.Reason == "" && !staffOf(actor, cur):
		reason = appointment.PatientRequest
	case in.Reason == "":
		fe.Add("cancellationReason", "is required: patient-request, doctor-request, clinic or other")
	case !ok:
		fe.Add("cancellationReason", "must be one of patient-request, doctor-request, clinic, other")
	case !staffOf(actor, cur) && reason != appointment.PatientRequest && reason != appointment.Other:
		// The record and its event say who cancelled: a patient cannot
		// speak for the doctor or the clinic.
		fe.Add("cancellationReason", "a patient cancels with patient-request or other")
	}
	if msg := appointment.CheckText(in.Note, appointment.MaxNoteLen); msg != "" {
		fe.Add("cancellationNote", msg)
	}
	if err := fe.Err(); err != nil {
		return appointment.Appointment{}, err
	}
	if err := checkVersion(ifMatch, cur); err != nil {
		return appointment.Appointment{}, err
	}
	if !appointment.CanMove(cur.Status, appointment.Cancelled) {
		return appointment.Appointment{}, appointment.IllegalTransition(cur.Status, appointment.Cancelled)
	}
	if err := s.checkNotice(actor, cur, "cancelled"); err != nil {
		return appointment.Appointment{}, err
	}
	next := cur
	next.Status = appointment.Cancelled
	next.CancellationReason = reason
	next.CancellationNote = strings.TrimSpace(in.Note)
	next.UpdatedBy = actor.UserID
	next.UpdatedAt = s.now()
	next.Version = cur.Version + 1
	ev, err := newEvent(TypeCancelled, next, next.UpdatedAt, nil)
	if err != nil {
		return appointment.Appointment{}, err
	}
	if err := s.update(ctx, actor, appointment.ActionCancel, cur, next, ev, f); err != nil {
		return appointment.Appointment{}, err
	}
	return next, nil
}

func (s *service) ChangeStatus(ctx context.Context, actor authn.Principal, id string, ifMatch int64, status string) (appointment.Appointment, error) {
	return s.changeUnconditionally(ctx, actor, id, ifMatch, appointment.ActionStatus, func(cur appointment.Appointment, f *freedTime) (appointment.Appointment, error) {
		return s.changeStatus(ctx, actor, cur, f, ifMatch, status)
	})
}

func (s *service) changeStatus(ctx context.Context, actor authn.Principal, cur appointment.Appointment, f *freedTime, ifMatch int64, status string) (appointment.Appointment, error) {
	to, ok := appointment.ParseStatus(status)
	switch {
	case status == "":
		return appointment.Appointment{}, domainerr.Field("status", "is required")
	case !ok:
		return appointment.Appointment{}, domainerr.Field("status", "must be one of booked, arrived, checked-in, fulfilled, noshow, entered-in-error")
	case to == appointment.Cancelled:
		return appointment.Appointment{}, domainerr.Field("status", "cancel through POST /api/v1/appointments/{id}/cancel, which takes a reason")
	}
	// Rights before the version (ADR 0003): a refusal is the same, and on
	// the trail, whatever If-Match says.
	if !staffOf(actor, cur) {
		return appointment.Appointment{}, s.deny(ctx, actor, appointment.ActionStatus, cur, domainerr.New(domainerr.Conflict,
			fmt.Sprintf("a patient cannot mark an appointment %s; only its doctor or an administrator can", to)))
	}
	if err := checkVersion(ifMatch, cur); err != nil {
		return appointment.Appointment{}, err
	}
	if !appointment.CanMove(cur.Status, to) {
		return appointment.Appointment{}, appointment.IllegalTransition(cur.Status, to)
	}
	if (to == appointment.NoShow || to == appointment.Fulfilled) && s.clock.Now().Before(cur.Start) {
		return appointment.Appointment{}, domainerr.New(domainerr.Conflict,
			fmt.Sprintf("an appointment cannot be marked %s before it starts", to))
	}
	next, ev, err := s.statusChanged(cur, to, actor.UserID)
	if err != nil {
		return appointment.Appointment{}, err
	}
	if err := s.update(ctx, actor, appointment.ActionStatus, cur, next, ev, f); err != nil {
		if errors.Is(err, appointment.ErrSlotTaken) {
			// Only a move back to a status that holds the slot can collide.
			return appointment.Appointment{}, appointment.SlotTaken(cur.Start, cur.End)
		}
		return appointment.Appointment{}, err
	}
	return next, nil
}

// statusChanged is cur moved to status to by the user by, now, at the next
// version, with its appointment.status_changed event: one shape for every
// status change, whether a caller or a consumed event asks for it.
func (s *service) statusChanged(cur appointment.Appointment, to appointment.Status, by string) (appointment.Appointment, events.Event, error) {
	next := cur
	next.Status = to
	next.UpdatedBy = by
	next.UpdatedAt = s.now()
	next.Version = cur.Version + 1
	ev, err := newEvent(TypeStatusChanged, next, next.UpdatedAt, &cur)
	if err != nil {
		return appointment.Appointment{}, events.Event{}, err
	}
	return next, ev, nil
}

func (s *service) Taken(ctx context.Context, actor authn.Principal, doctorID, fromS, toS string) ([]Range, error) {
	if err := authenticated(actor); err != nil {
		return nil, err
	}
	var fe domainerr.FieldErrors
	id, ok := ids.Canonical(doctorID)
	if !ok {
		fe.Add("doctorId", "must be a UUID")
	}
	from, okF := parseInstant(&fe, "from", fromS)
	to, okT := parseInstant(&fe, "to", toS)
	if okF && okT {
		switch {
		case to.Before(from):
			fe.Add("to", "must not be before from")
		case to.Sub(from) > MaxTakenDays*24*time.Hour:
			fe.Add("to", fmt.Sprintf("the window may cover at most %d days", MaxTakenDays))
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	// Patients learn which times are gone, as the slots show them, not a
	// doctor's past: their window starts a day ago at the earliest, which
	// still holds every appointment that has not ended.
	if !isStaff(actor) {
		if floor := s.clock.Now().UTC().Add(-24 * time.Hour); from.Before(floor) {
			from = floor
		}
		if !to.After(from) {
			return []Range{}, nil
		}
	}
	rs, err := s.repo.Taken(ctx, id, from, to)
	if err != nil {
		return nil, err
	}
	if rs == nil {
		rs = []Range{}
	}
	return rs, nil
}

func (s *service) List(ctx context.Context, actor authn.Principal, in ListInput) (page.Page[appointment.Appointment], error) {
	var none page.Page[appointment.Appointment]
	if err := authenticated(actor); err != nil {
		return none, err
	}
	q, err := s.query(ctx, actor, in)
	if err != nil {
		return none, err
	}
	items, err := s.repo.List(ctx, q)
	if err != nil {
		return none, err
	}
	out := page.Page[appointment.Appointment]{Items: items}
	if len(items) > q.Limit-1 {
		out.Items = items[:q.Limit-1]
		last := out.Items[len(out.Items)-1]
		out.NextCursor = page.EncodeCursor(Cursor{Start: last.Start, ID: last.ID})
	}
	if err := s.listed(ctx, actor, out.Items); err != nil {
		return none, err
	}
	return out, nil
}

// query builds the store query of a list: the caller's own appointments
// for a patient or a doctor, any for an administrator; Limit is one more
// than the page, to know whether another follows.
func (s *service) query(ctx context.Context, actor authn.Principal, in ListInput) (Query, error) {
	var (
		q  Query
		fe domainerr.FieldErrors
	)
	switch {
	case in.Limit == 0:
		q.Limit = page.DefaultLimit
	case in.Limit < 0 || in.Limit > page.MaxLimit:
		return Query{}, page.ErrLimit
	default:
		q.Limit = in.Limit
	}
	q.Limit++
	if in.DoctorID != "" {
		id, ok := ids.Canonical(in.DoctorID)
		if !ok {
			fe.Add("doctorId", "must be a UUID")
		}
		q.DoctorID = id
	}
	if in.PatientID != "" {
		id, ok := ids.Canonical(in.PatientID)
		if !ok {
			fe.Add("patientId", "must be a UUID")
		}
		q.PatientID = id
	}
	if in.Status != "" {
		for _, v := range strings.Split(in.Status, ",") {
			st, ok := appointment.ParseStatus(strings.TrimSpace(v))
			if !ok {
				fe.Add("status", "must be one or more of booked, arrived, checked-in, fulfilled, cancelled, noshow, entered-in-error")
				break
			}
			q.Statuses = append(q.Statuses, st)
		}
	}
	var date civil.Date
	hasDate := in.Date != ""
	if hasDate {
		d, err := civil.Parse(in.Date)
		switch {
		case err != nil:
			fe.Add("date", err.Error())
		case !inRange(d):
			fe.Add("date", timeRange)
		}
		date = d
	}
	days := in.Days
	switch {
	case days == 0:
		days = 1
	case !hasDate:
		fe.Add("days", "goes with date")
	case days < 0 || days > MaxAgendaDays:
		fe.Add("days", fmt.Sprintf("must be from 1 to %d", MaxAgendaDays))
	}
	switch in.When {
	case "", "upcoming", "past":
	default:
		fe.Add("when", "must be upcoming or past")
	}
	if in.Cursor != "" {
		var c Cursor
		if err := page.DecodeCursor(in.Cursor, &c); err != nil {
			return Query{}, page.ErrCursor
		}
		// Every appointment starts within [minTime, maxTime), so a cursor
		// outside it was not issued here; past it, a crafted offset could
		// name an instant beyond the year 9999 in UTC, which MariaDB's
		// driver refuses to send.
		cid, ok := ids.Canonical(c.ID)
		if !ok || c.Start.Before(minTime) || !c.Start.Before(maxTime) {
			return Query{}, page.ErrCursor
		}
		c.ID = cid
		q.After = &c
	}
	if err := fe.Err(); err != nil {
		return Query{}, err
	}

	// Whose appointments.
	zone := "UTC"
	switch {
	case isAdmin(actor):
		if hasDate && q.DoctorID != "" {
			d, err := s.doctors.Get(ctx, q.DoctorID)
			switch {
			case errors.Is(err, ErrUnknownDoctor):
				return Query{}, domainerr.Field("doctorId", "no such doctor")
			case err != nil:
				return Query{}, fmt.Errorf("look up doctor: %w", err)
			}
			zone = d.TimeZone
		}
	case actor.Has(authn.RoleDoctor):
		q.DoctorUserID = actor.UserID
		if actor.Has(authn.RolePatient) {
			// A doctor who is also a patient books their own care with
			// other doctors; their list holds it beside their patients'.
			q.DoctorUserID, q.ParticipantUserID = "", actor.UserID
		}
		if hasDate {
			d, err := s.doctors.Me(ctx)
			switch {
			case errors.Is(err, ErrUnknownDoctor):
				return Query{}, domainerr.New(domainerr.Forbidden, "a doctor profile is required to read an agenda")
			case err != nil:
				return Query{}, fmt.Errorf("look up doctor: %w", err)
			}
			zone = d.TimeZone
		}
	case actor.Has(authn.RolePatient):
		q.PatientUserID = actor.UserID
	default:
		return Query{}, appointment.ErrForbidden
	}

	now := s.clock.Now().UTC()
	if hasDate {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			// The doctor's profile names a zone this host does not know: a
			// record to correct, not a fault (the doctor service answers it
			// 409 too).
			return Query{}, errZoneUnusable
		}
		lo := date.In(loc)
		hi := date.AddDays(days).In(loc)
		q.StartFrom, q.StartBefore = &lo, &hi
	}
	switch {
	case in.When == "past":
		q.EndNotAfter = &now
		q.Order = Descending
	case in.When == "upcoming" || !hasDate:
		q.EndAfter = &now
	}
	return q, nil
}
