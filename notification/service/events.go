package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/templates"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
)

// The event types the service consumes (the event contract, schema version 1).
const (
	TypeUserRegistered         = "auth.user_registered"
	TypePasswordResetRequested = "auth.password_reset_requested"
	TypeAppointmentBooked      = "appointment.booked"
	TypeAppointmentRescheduled = "appointment.rescheduled"
	TypeAppointmentCancelled   = "appointment.cancelled"
	TypeAppointmentStatus      = "appointment.status_changed"
	TypeSlotFreed              = "appointment.slot_freed"
)

// Topics are the broker subjects the service subscribes to.
var Topics = []string{
	"medisync." + TypeUserRegistered, "medisync." + TypePasswordResetRequested,
	"medisync." + TypeAppointmentBooked, "medisync." + TypeAppointmentRescheduled,
	"medisync." + TypeAppointmentCancelled, "medisync." + TypeAppointmentStatus,
	"medisync." + TypeSlotFreed,
}

// ErrMalformed marks an event no retry can apply: unknown schema version,
// missing fields, a sealed link that does not open. The broker dead-letters it.
var ErrMalformed = errors.New("malformed event")

func malformed(ev events.Event, format string, args ...any) error {
	return fmt.Errorf("%w: %s %s: %s", ErrMalformed, ev.Type, ev.ID, fmt.Sprintf(format, args...))
}

type userRegistered struct {
	UserID   string `json:"userId"`
	Email    string `json:"email"`
	Role     string `json:"role"`
	Language string `json:"language"`
}

type passwordReset struct {
	UserID     string    `json:"userId"`
	Email      string    `json:"email"`
	Language   string    `json:"language"`
	SealedLink string    `json:"sealedLink"`
	ExpiresAt  time.Time `json:"expiresAt"`
}

type appointment struct {
	AppointmentID      string    `json:"appointmentId"`
	PatientUserID      string    `json:"patientUserId"`
	DoctorUserID       string    `json:"doctorUserId"`
	DoctorName         string    `json:"doctorName"`
	TimeZone           string    `json:"timeZone"`
	Start              time.Time `json:"start"`
	End                time.Time `json:"end"`
	Status             string    `json:"status"`
	PreviousStart      time.Time `json:"previousStart"`
	CancellationReason string    `json:"cancellationReason"`
	Version            int64     `json:"version"`
}

// slotFreed is a freed slot offered to the first patient waiting for it.
// doctorName and timeZone are absent from events written before the
// producer sent them: the offer then names no doctor and gives UTC times,
// as it does for a zone that is no usable IANA zone (zoneOf).
type slotFreed struct {
	DoctorID               string    `json:"doctorId"`
	DoctorName             string    `json:"doctorName"`
	TimeZone               string    `json:"timeZone"`
	Start                  time.Time `json:"start"`
	End                    time.Time `json:"end"`
	OfferedToPatientUserID string    `json:"offeredToPatientUserId"`
}

func (s *svc) HandleEvent(ctx context.Context, ev events.Event) error {
	var apply func(ctx context.Context, tx Tx) error
	switch ev.Type {
	case TypeUserRegistered:
		var d userRegistered
		if err := decode(ev, &d); err != nil {
			return err
		}
		if !ids.Valid(d.UserID) || !validEmail(d.Email) {
			return malformed(ev, "userId and a valid email are required")
		}
		if len(d.Role) > maxRole || !cleanText(d.Role) {
			return malformed(ev, "role is not a role")
		}
		apply = func(ctx context.Context, tx Tx) error {
			u := notice.User{ID: d.UserID, Email: d.Email, Role: d.Role, Language: templates.Match(d.Language)}
			if err := tx.PutUser(ctx, u); err != nil {
				return err
			}
			return s.releaseHeldMail(ctx, tx, u)
		}
	case TypePasswordResetRequested:
		var d passwordReset
		if err := decode(ev, &d); err != nil {
			return err
		}
		m, err := s.resetMail(ev, d)
		if err != nil {
			return err
		}
		apply = func(ctx context.Context, tx Tx) error { return tx.QueueMail(ctx, m) }
	case TypeAppointmentBooked, TypeAppointmentRescheduled, TypeAppointmentCancelled, TypeAppointmentStatus:
		var d appointment
		if err := decode(ev, &d); err != nil {
			return err
		}
		if err := d.check(ev); err != nil {
			return err
		}
		apply = func(ctx context.Context, tx Tx) error { return s.applyAppointment(ctx, tx, ev, d) }
	case TypeSlotFreed:
		var d slotFreed
		if err := decode(ev, &d); err != nil {
			return err
		}
		if err := d.check(ev); err != nil {
			return err
		}
		apply = func(ctx context.Context, tx Tx) error { return s.applySlotFreed(ctx, tx, ev, d) }
	default:
		// Not ours: the subscription names its topics, so this is a
		// producer's new type, harmless to pass over.
		return nil
	}
	var err error
	for attempt := 1; attempt <= reminderRaces; attempt++ {
		// Another event of the appointment added its reminder since this
		// one found none: applied again, this event finds and holds it.
		if _, err = s.repo.Apply(ctx, ev, s.now(), apply); !errors.Is(err, ErrReminderAdded) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("apply %s %s: %w", ev.Type, ev.ID, err)
	}
	return nil
}

// reminderRaces bounds how often an event is applied again because another
// event of its appointment added the reminder first: once is enough (the
// next attempt finds that reminder), the rest is for a pathological
// database; the broker redelivers an event that still fails.
const reminderRaces = 3

func decode(ev events.Event, v any) error {
	if !strings.HasSuffix(ev.DataSchema, ".v1.json") {
		return malformed(ev, "schema %q is not version 1", ev.DataSchema)
	}
	if err := ev.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return nil
}

// Bounds of the event fields the service stores, from its columns: a field
// beyond them makes the event malformed rather than a database error that
// the broker would redeliver without end.
const (
	maxEmail      = 254
	maxRole       = 16
	maxDoctorName = 200
)

func validEmail(s string) bool {
	if len(s) > maxEmail {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && a.Name == ""
}

// cleanText reports whether s is UTF-8 without control characters (NUL,
// which PostgreSQL refuses, among them).
func cleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// resetMail opens the sealed link and renders the reset mail. The link is
// never logged: it appears only in the mail.
func (s *svc) resetMail(ev events.Event, d passwordReset) (notice.Delivery, error) {
	if !validEmail(d.Email) {
		return notice.Delivery{}, malformed(ev, "a valid email is required")
	}
	if d.UserID != "" && !ids.Valid(d.UserID) {
		return notice.Delivery{}, malformed(ev, "userId is not an id")
	}
	if s.cfg.SealKey == nil {
		return notice.Delivery{}, fmt.Errorf("%s %s: no event seal key is configured to open the link", ev.Type, ev.ID)
	}
	link, err := s.cfg.SealKey.Open(d.SealedLink, []byte(ev.ID))
	if err != nil {
		return notice.Delivery{}, malformed(ev, "the sealed link does not open with this key")
	}
	expires := d.ExpiresAt
	if expires.IsZero() {
		expires = ev.Time.Add(s.cfg.DefaultExpiry)
	}
	msg, err := s.tpl.Render(notice.PasswordReset, d.Language, templates.Data{Link: string(link), ExpiresAt: expires})
	if err != nil {
		return notice.Delivery{}, err
	}
	now := s.now()
	return notice.Delivery{
		ID: newID(), UserID: d.UserID, Kind: notice.PasswordReset, Recipient: d.Email,
		Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, Status: notice.Queued,
		NextAttemptAt: now, ExpiresAt: expires.UTC(), CreatedAt: now, UpdatedAt: now,
	}, nil
}

func (d appointment) check(ev events.Event) error {
	// patientUserId is empty when the patient has no account (the clinic
	// books for them): the doctor is still told.
	if d.AppointmentID == "" || d.Start.IsZero() {
		return malformed(ev, "appointmentId and start are required")
	}
	if !ids.Valid(d.AppointmentID) || (d.PatientUserID != "" && !ids.Valid(d.PatientUserID)) || (d.DoctorUserID != "" && !ids.Valid(d.DoctorUserID)) {
		return malformed(ev, "appointmentId, patientUserId and doctorUserId must be ids")
	}
	if utf8.RuneCountInString(d.DoctorName) > maxDoctorName || !cleanText(d.DoctorName) {
		return malformed(ev, "doctorName must be text of at most %d characters", maxDoctorName)
	}
	// A zone that is no usable IANA zone ("Local", "localtime": stored with
	// appointments booked before the doctor profile's rule, and carried by
	// all their events) does not make the event malformed: dead-lettering
	// a cancellation would leave its reminder live. Its times are written
	// in UTC (zoneOf).
	if d.TimeZone == "" {
		return malformed(ev, "timeZone is required")
	}
	// The version orders the appointment's events; without it a late or
	// replayed event could not be told from a newer one.
	if d.Version < 1 {
		return malformed(ev, "version must be at least 1")
	}
	return nil
}

// applyAppointment moves the appointment's reminder and tells the patient
// and the doctor. An event older than the last one applied to the
// appointment (by its version) leaves the reminder alone: a late "booked"
// must not revive a cancelled appointment's reminder. It may still mail its
// change (lateChange): the events of one change (a cancellation and the
// status change it leads to) are published together on separate subjects,
// in no order.
func (s *svc) applyAppointment(ctx context.Context, tx Tx, ev events.Event, d appointment) error {
	now := s.now()
	r, found, err := tx.Reminder(ctx, d.AppointmentID)
	if err != nil {
		return err
	}
	if found && d.Version <= r.Version {
		return s.lateChange(ctx, tx, ev, d, r)
	}
	if found {
		// Mail of an earlier version may still wait in the queue (an SMTP
		// outage holds mail for days, and a retry's backoff can put it
		// behind this event's mail): it must not go out after, nor tell of,
		// an appointment since cancelled or moved.
		if kinds, why := withdrawal(ev.Type, d, r); len(kinds) > 0 {
			if err := tx.WithdrawMail(ctx, d.AppointmentID, d.Version, kinds, why, now); err != nil {
				return err
			}
		}
	}
	zone := zoneOf(d.TimeZone)
	r = notice.Reminder{
		AppointmentID: d.AppointmentID, PatientUserID: d.PatientUserID, DoctorName: d.DoctorName,
		TimeZone: zone, Start: d.Start.UTC(), End: d.End.UTC(), DueAt: d.Start.Add(-s.cfg.ReminderLead).UTC(),
		Status: r.Status, Version: d.Version, ChangeVersion: r.ChangeVersion, UpdatedAt: now,
	}
	kind := changeKind(ev.Type)
	if kind != "" {
		r.ChangeVersion = d.Version
	}
	switch ev.Type {
	case TypeAppointmentBooked, TypeAppointmentRescheduled:
		r.Status = notice.ReminderPending
	case TypeAppointmentCancelled:
		r.Status = notice.ReminderWithdrawn
	case TypeAppointmentStatus:
		// Only a booked appointment keeps its reminder; any other status
		// (fulfilled, noshow, entered-in-error...) withdraws it.
		if d.Status != "booked" {
			r.Status = notice.ReminderWithdrawn
		} else if r.Status == "" {
			r.Status = notice.ReminderPending
		}
	}
	if r.Status == notice.ReminderPending && (!r.DueAt.After(now) || r.PatientUserID == "") {
		// Booked or moved within the lead time: the confirmation just sent
		// serves as the reminder. A patient without an account has no one
		// to remind.
		r.Status = notice.ReminderSkipped
	}
	put := tx.PutReminder
	if !found {
		put = tx.InsertReminder
	}
	if err := put(ctx, r); err != nil {
		return err
	}
	if kind == "" {
		return nil
	}
	return s.mailChange(ctx, tx, d, kind)
}

// changeKind is the mail of a change event: booked, rescheduled, cancelled.
func changeKind(typ string) notice.Kind {
	switch typ {
	case TypeAppointmentBooked:
		return notice.AppointmentBooked
	case TypeAppointmentRescheduled:
		return notice.AppointmentRescheduled
	case TypeAppointmentCancelled:
		return notice.AppointmentCancelled
	}
	return ""
}

// lateChange is the effect of a change event older than the reminder, r:
// only its mail, when it is newer than the last change mailed
// (r.ChangeVersion), so that every event after it is a status change,
// which mails nothing. A cancellation is mailed unless its start has
// passed (a status change such as entered-in-error that it led to may have
// come first); a booking or a move only while the appointment is still
// booked at that start as of r (a later status change out of booked voids
// it, and a later cancellation or move would have mailed, raising
// r.ChangeVersion), so a late "booked" never confirms a cancelled
// appointment. It withdraws the earlier mails as the event would have in
// order; the reminder stays as r.
func (s *svc) lateChange(ctx context.Context, tx Tx, ev events.Event, d appointment, r notice.Reminder) error {
	kind := changeKind(ev.Type)
	now := s.now()
	if kind == "" || d.Version <= r.ChangeVersion || !d.Start.After(now) {
		return nil
	}
	if kind != notice.AppointmentCancelled && notBookedAt(r, d.Start) {
		return nil
	}
	// A reminder an older instance stored during a rolling upgrade has no
	// change_version that counts: a replay of an event it applied is known
	// by the mail it queued.
	if mailed, err := tx.ChangeMailed(ctx, d.AppointmentID, d.Version, kind); err != nil || mailed {
		return err
	}
	if kinds, why := withdrawal(ev.Type, d, r); len(kinds) > 0 {
		if err := tx.WithdrawMail(ctx, d.AppointmentID, d.Version, kinds, why, now); err != nil {
			return err
		}
	}
	r.ChangeVersion, r.UpdatedAt = d.Version, now
	if err := tx.PutReminder(ctx, r); err != nil {
		return err
	}
	return s.mailChange(ctx, tx, d, kind)
}

// notBookedAt reports whether r, as of its last event, no longer holds the
// appointment booked at start: a booking or a move mail for start no
// longer stands.
func notBookedAt(r notice.Reminder, start time.Time) bool {
	return r.Status == notice.ReminderWithdrawn || !start.Equal(r.Start)
}

// mailChange tells the patient and the doctor of the change d, of kind.
func (s *svc) mailChange(ctx context.Context, tx Tx, d appointment, kind notice.Kind) error {
	zone := zoneOf(d.TimeZone)
	data := templates.Data{DoctorName: d.DoctorName, TimeZone: zone, Start: d.Start, PreviousFrom: d.PreviousStart, Reason: d.CancellationReason}
	ref := about{appointmentID: d.AppointmentID, version: d.Version}
	if d.PatientUserID != "" {
		if err := s.notify(ctx, tx, d.PatientUserID, kind, data, ref); err != nil {
			return err
		}
	}
	if d.DoctorUserID != "" {
		data.ForDoctor = true
		return s.notify(ctx, tx, d.DoctorUserID, kind, data, ref)
	}
	return nil
}

// The mails about an appointment: those that tell of a change, and all of
// them with the reminder.
var (
	changeMail      = []notice.Kind{notice.AppointmentBooked, notice.AppointmentRescheduled, notice.AppointmentCancelled}
	appointmentMail = append([]notice.Kind{notice.AppointmentReminder}, changeMail...)
	// bookingMail is every mail that tells the appointment is on: the
	// reminder, the confirmation, the move.
	bookingMail = []notice.Kind{notice.AppointmentReminder, notice.AppointmentBooked, notice.AppointmentRescheduled}
)

// superseded is the delivery report's reason for a change's mail withdrawn
// by a later change's.
const superseded = "withdrawn: superseded by a later change of the appointment"

// withdrawal is which mails of the appointment's earlier versions an event
// withdraws, by its type, and why (kept for the delivery report). Only an
// event that queues a mail of its own withdraws earlier change mails: the
// new mail tells the appointment as it now is.
//   - a cancellation, a move to another start: every mail, the reminder's
//     too;
//   - a booking, a move to the same start: the change mails; the reminder,
//     for the same start, stands;
//   - a status change mails nothing: a status other than booked withdraws
//     every mail that tells the appointment is on (the reminder, the
//     confirmation, the move: Booked -> EnteredInError voids the visit)
//     and keeps a cancellation still queued, which stays true (Cancelled
//     -> EnteredInError); booked withdraws nothing.
func withdrawal(typ string, d appointment, prev notice.Reminder) ([]notice.Kind, string) {
	switch typ {
	case TypeAppointmentCancelled:
		return appointmentMail, "withdrawn: the appointment was cancelled"
	case TypeAppointmentRescheduled:
		if !d.Start.Equal(prev.Start) {
			return appointmentMail, "withdrawn: the appointment was moved"
		}
		return changeMail, superseded
	case TypeAppointmentBooked:
		return changeMail, superseded
	case TypeAppointmentStatus:
		if d.Status != "booked" {
			return bookingMail, "withdrawn: the appointment is no longer booked"
		}
	}
	return nil, ""
}

func (d slotFreed) check(ev events.Event) error {
	if !ids.Valid(d.DoctorID) || !ids.Valid(d.OfferedToPatientUserID) || d.Start.IsZero() {
		return malformed(ev, "doctorId, offeredToPatientUserId and start are required")
	}
	if utf8.RuneCountInString(d.DoctorName) > maxDoctorName || !cleanText(d.DoctorName) {
		return malformed(ev, "doctorName must be text of at most %d characters", maxDoctorName)
	}
	return nil
}

// zoneOf is the name of the zone an event's times are written in: its
// timeZone when that is a usable IANA zone, else UTC (civil.ZoneOrUTC, the
// rule the templates render by). The name, not the event's text, is what
// is stored, so a reminder of an appointment with the zone "Local" is
// written in UTC too, and no zone name outgrows its column.
func zoneOf(name string) string {
	return civil.ZoneOrUTC(name).String()
}

// applySlotFreed tells the patient taken off the waitlist that the slot is
// theirs to book, on the channels they chose. An offer of a slot that has
// begun is dropped: a consumer catching up on days of events would
// otherwise fill the inbox with offers nobody can take. Its mail expires
// at the start, as every appointment mail does. An offer has no version or
// status to check a replay against, and the inbox forgets its claim after
// inbox.Retention: the offer is recorded by event until the slot's start,
// so that a dead letter replayed later is not offered again.
func (s *svc) applySlotFreed(ctx context.Context, tx Tx, ev events.Event, d slotFreed) error {
	if !d.Start.After(s.now()) {
		return nil
	}
	if first, err := tx.RecordSlotOffer(ctx, ev.ID, d.Start); err != nil || !first {
		return err
	}
	data := templates.Data{DoctorName: d.DoctorName, TimeZone: zoneOf(d.TimeZone), Start: d.Start}
	return s.notify(ctx, tx, d.OfferedToPatientUserID, notice.SlotOffered, data, about{})
}

// about is the appointment version a message is about; the zero value for
// one about none.
type about struct {
	appointmentID string
	version       int64
}

// notify sends kind to userID on the channels they chose: an inbox entry,
// and a mail, held until the directory knows their address. A reminder also
// needs their consent to reminders.
func (s *svc) notify(ctx context.Context, tx Tx, userID string, kind notice.Kind, data templates.Data, ref about) error {
	prefs, err := tx.Preferences(ctx, userID)
	if err != nil {
		return err
	}
	if kind == notice.AppointmentReminder && !prefs.Reminders {
		return nil
	}
	user, known, err := tx.User(ctx, userID)
	if err != nil {
		return err
	}
	msg, err := s.tpl.Render(kind, user.Language, data)
	if err != nil {
		return err
	}
	now := s.now()
	if prefs.InApp {
		n := notice.Notification{ID: newID(), UserID: userID, Kind: kind, Title: msg.Subject, Body: msg.Summary, CreatedAt: now}
		if err := tx.AddNotification(ctx, n); err != nil {
			return err
		}
	}
	if !prefs.Email {
		return nil
	}
	if !known {
		// The registration comes on auth's stream, in no order with this
		// one: the mail waits for it rather than be lost.
		return s.holdMail(ctx, tx, userID, kind, data, ref)
	}
	return s.queueMail(ctx, tx, user, kind, msg, data, ref)
}

// queueMail queues msg to user. A mail about an appointment is pointless
// once it has begun: one held back by a long mail outage is not sent after it.
func (s *svc) queueMail(ctx context.Context, tx Tx, user notice.User, kind notice.Kind, msg templates.Message, data templates.Data, ref about) error {
	now := s.now()
	return tx.QueueMail(ctx, notice.Delivery{
		ID: newID(), UserID: user.ID, Kind: kind, Recipient: user.Email, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML,
		Status: notice.Queued, NextAttemptAt: now, ExpiresAt: data.Start.UTC(), CreatedAt: now, UpdatedAt: now,
		AppointmentID: ref.appointmentID, AppointmentVersion: ref.version,
	})
}

func (s *svc) holdMail(ctx context.Context, tx Tx, userID string, kind notice.Kind, data templates.Data, ref about) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("hold %s mail: %w", kind, err)
	}
	return tx.HoldMail(ctx, notice.HeldMail{
		ID: newID(), UserID: userID, Kind: kind, Data: raw, AppointmentID: ref.appointmentID, AppointmentVersion: ref.version,
		ExpiresAt: data.Start.UTC(), CreatedAt: s.now(),
	})
}

// releaseHeldMail queues, in u's language, the mails held until the
// directory knew u, on the channels u has chosen by now. One whose
// appointment has begun is dropped, as the queue would drop it; so is one
// about an appointment a later event cancelled, moved or took out of the
// booked status, whose own mail tells of it.
func (s *svc) releaseHeldMail(ctx context.Context, tx Tx, u notice.User) error {
	held, err := tx.TakeHeldMail(ctx, u.ID)
	if err != nil {
		return err
	}
	return s.queueHeldMail(ctx, tx, u, held)
}

// queueHeldMail queues held, taken from the user u, by the rules of
// releaseHeldMail: the registration's release and the mail pass's
// (Repository.ReleaseHeldMail) drop and write the same.
func (s *svc) queueHeldMail(ctx context.Context, tx Tx, u notice.User, held []notice.HeldMail) error {
	if len(held) == 0 {
		return nil
	}
	prefs, err := tx.Preferences(ctx, u.ID)
	if err != nil {
		return err
	}
	now := s.now()
	for _, h := range held {
		if !prefs.Email || (h.Kind == notice.AppointmentReminder && !prefs.Reminders) || !h.ExpiresAt.After(now) {
			continue
		}
		var data templates.Data
		if err := json.Unmarshal(h.Data, &data); err != nil {
			return fmt.Errorf("held mail %s: %w", h.ID, err)
		}
		if h.AppointmentID != "" {
			r, found, err := tx.Reminder(ctx, h.AppointmentID)
			if err != nil {
				return err
			}
			if found && heldSuperseded(h, r, data) {
				continue
			}
		}
		msg, err := s.tpl.Render(h.Kind, u.Language, data)
		if err != nil {
			return err
		}
		if err := s.queueMail(ctx, tx, u, h.Kind, msg, data, about{appointmentID: h.AppointmentID, version: h.AppointmentVersion}); err != nil {
			return err
		}
	}
	return nil
}

// heldSuperseded reports whether the held mail h, with data, tells of an
// appointment that a later event, as of r, cancelled, moved or took out of
// the booked status. A held cancellation is only superseded by a later
// change's mail (r.ChangeVersion): the status change a cancellation leads
// to (entered-in-error) mails nothing, and the cancellation stays true.
func heldSuperseded(h notice.HeldMail, r notice.Reminder, data templates.Data) bool {
	if h.Kind == notice.AppointmentCancelled {
		return r.ChangeVersion > h.AppointmentVersion
	}
	return r.Version > h.AppointmentVersion && notBookedAt(r, data.Start)
}

func (s *svc) FireDueReminders(ctx context.Context) (int, error) {
	n, err := s.repo.FireDueReminders(ctx, s.now(), s.cfg.Batch, func(ctx context.Context, tx Tx, r notice.Reminder) error {
		data := templates.Data{DoctorName: r.DoctorName, TimeZone: r.TimeZone, Start: r.Start}
		return s.notify(ctx, tx, r.PatientUserID, notice.AppointmentReminder, data, about{appointmentID: r.AppointmentID, version: r.Version})
	})
	if err != nil {
		return n, fmt.Errorf("fire reminders: %w", err)
	}
	return n, nil
}
