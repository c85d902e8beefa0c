// Package notice holds what the notification service keeps: the directory
// of users it writes to, their preferences, in-app notifications, outgoing
// mail deliveries and appointment reminders.
package notice

import (
	"time"

	"github.com/medisync/medisync/shared/domainerr"
)

// Kind names a message: one template each, in every language.
type Kind string

// The messages the service sends.
const (
	PasswordReset          Kind = "password_reset"
	AppointmentBooked      Kind = "appointment_booked"
	AppointmentRescheduled Kind = "appointment_rescheduled"
	AppointmentCancelled   Kind = "appointment_cancelled"
	AppointmentReminder    Kind = "appointment_reminder"
	SlotOffered            Kind = "slot_offered" // a freed slot offered to a patient on the waitlist
)

// Kinds lists every kind, in a fixed order.
var Kinds = []Kind{PasswordReset, AppointmentBooked, AppointmentRescheduled, AppointmentCancelled, AppointmentReminder, SlotOffered}

// User is a directory entry: where and in which language to write to a user.
type User struct {
	ID       string
	Email    string
	Role     string
	Language string
}

// Preferences are a user's choice of channels. A password reset ignores
// them: it always goes by email, since it is how a locked-out user gets back in.
type Preferences struct {
	UserID    string
	Email     bool // email for appointment messages
	InApp     bool // entries in the in-app inbox
	Reminders bool // reminders before appointments, on the channels above
	Version   int64
	UpdatedAt time.Time
}

// DefaultPreferences are a user's preferences until they change them:
// every channel on, at version 1.
func DefaultPreferences(userID string) Preferences {
	return Preferences{UserID: userID, Email: true, InApp: true, Reminders: true, Version: 1}
}

// Notification is one entry of a user's in-app inbox.
type Notification struct {
	ID        string
	UserID    string
	Kind      Kind
	Title     string
	Body      string
	CreatedAt time.Time
	ReadAt    time.Time // zero while unread
}

// Read reports whether the user has read n.
func (n Notification) Read() bool { return !n.ReadAt.IsZero() }

// DeliveryStatus is where an outgoing mail stands.
type DeliveryStatus string

// The statuses of a delivery: queued (waiting for its next attempt),
// sending (leased by a worker), sent, failed (given up, with the reason).
const (
	Queued  DeliveryStatus = "queued"
	Sending DeliveryStatus = "sending"
	Sent    DeliveryStatus = "sent"
	Failed  DeliveryStatus = "failed"
)

// ValidDeliveryStatus reports whether s is a status.
func ValidDeliveryStatus(s string) bool {
	switch DeliveryStatus(s) {
	case Queued, Sending, Sent, Failed:
		return true
	}
	return false
}

// Delivery is one outgoing mail and its history. Its bodies are erased once
// it is sent or given up: the queue is not an archive, and a reset link must
// not outlive its use.
type Delivery struct {
	ID            string
	UserID        string
	Kind          Kind
	Recipient     string
	Subject       string
	Text          string
	HTML          string
	Status        DeliveryStatus
	Attempts      int
	LastError     string
	NextAttemptAt time.Time
	ExpiresAt     time.Time // zero: never; a reset link past its expiry is not sent
	CreatedAt     time.Time
	UpdatedAt     time.Time
	SentAt        time.Time
	// The appointment a message is about and the version of it the message
	// was written for ("" and 0 for other mail): a mail of it still waiting
	// in the queue is withdrawn by a later version, by the kinds its event
	// type names (service.withdrawal): a cancellation or a move to another
	// start withdraws every mail, the reminder's too; a booking or a move to
	// the same start, which mail the appointment as it now is, the change
	// mails; a status other than booked, which mails nothing, the
	// reminder, the confirmation and the move, keeping a cancellation. A
	// withdrawn mail is failed with LastError "withdrawn: ...", possibly
	// with no attempt.
	AppointmentID      string
	AppointmentVersion int64
}

// HeldMail is a mail to a user the directory does not know yet: their
// registration comes on another stream and may arrive after the event. It
// keeps the template and its data (Data, as JSON), written in the user's
// language once the registration arrives.
type HeldMail struct {
	ID                 string
	UserID             string
	Kind               Kind
	Data               []byte
	AppointmentID      string
	AppointmentVersion int64
	ExpiresAt          time.Time // the appointment's start: dropped after it
	CreatedAt          time.Time
}

// ReminderStatus is where a reminder stands.
type ReminderStatus string

// A reminder is pending until due, then sent; withdrawn when its
// appointment is cancelled or leaves the booked status; skipped when the
// appointment was booked too late for one, or the patient opted out.
const (
	ReminderPending   ReminderStatus = "pending"
	ReminderSent      ReminderStatus = "sent"
	ReminderWithdrawn ReminderStatus = "withdrawn"
	ReminderSkipped   ReminderStatus = "skipped"
)

// Reminder is the reminder of one appointment, kept at the appointment's
// latest version so that an event older than the last one applied changes
// nothing.
type Reminder struct {
	AppointmentID string
	PatientUserID string
	DoctorName    string
	TimeZone      string
	Start         time.Time
	End           time.Time
	DueAt         time.Time
	Status        ReminderStatus
	Version       int64 // the appointment's version
	// ChangeVersion is the version of the last change event (booked,
	// rescheduled, cancelled) applied, whose mail told the appointment as
	// it then was: a change event older than Version but newer than
	// ChangeVersion, applied late, still mails its change.
	ChangeVersion int64
	UpdatedAt     time.Time
}

// InboxQuery selects a page of a user's notifications, newest first.
type InboxQuery struct {
	UserID     string
	UnreadOnly bool
	Limit      int
	Cursor     string
}

// DeliveryQuery selects a page of deliveries, newest first, optionally of
// one status.
type DeliveryQuery struct {
	Status DeliveryStatus
	Limit  int
	Cursor string
}

// Errors of the use cases.
var (
	ErrNotificationNotFound = domainerr.New(domainerr.NotFound, "notification not found")
	ErrPreferencesChanged   = domainerr.New(domainerr.Stale, "the preferences have changed since they were read")
	ErrAdminOnly            = domainerr.New(domainerr.Forbidden, "only an admin may do this")
	ErrIfMatchRequired      = domainerr.New(domainerr.PreconditionRequired, "If-Match is required: send the ETag of the preferences you read")
)
