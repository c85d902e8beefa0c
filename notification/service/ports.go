package service

import (
	"context"
	"errors"
	"time"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/page"
)

// Repository keeps the directory, preferences, inbox, mail queue and
// reminders. Every effect of an event happens in one transaction with the
// event's inbox claim, so a redelivered event changes nothing.
type Repository interface {
	// Apply claims ev and runs fn in the same transaction; when ev was
	// claimed before, fn does not run and Apply reports false.
	Apply(ctx context.Context, ev events.Event, now time.Time, fn func(ctx context.Context, tx Tx) error) (bool, error)
	// FireDueReminders takes up to limit pending reminders due at now, each
	// marked sent in the transaction in which fn queues its messages; a
	// reminder another instance holds is skipped, never taken twice.
	FireDueReminders(ctx context.Context, now time.Time, limit int, fn func(ctx context.Context, tx Tx, r notice.Reminder) error) (int, error)

	// ClaimMail leases up to limit deliveries due at now (queued, or sending
	// with a lapsed lease) until now+lease and counts the attempt.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]notice.Delivery, error)
	// RenewLease extends the lease of attempt (the delivery's Attempts as
	// ClaimMail answered it) until until, and reports false when the mail
	// is no longer that attempt's: another worker took it after the lease
	// lapsed. A worker renews right before sending, so that a batch that
	// outlasts its first lease never sends a mail twice. A mail withdrawn
	// meanwhile (Tx.WithdrawMail) is not renewed but failed with
	// the withdrawal's reason: the renewal is the last step before the
	// mail server, and a withdrawal after it comes too late.
	RenewLease(ctx context.Context, id string, attempt int, until time.Time) (bool, error)
	// MarkSent, MarkRetry and MarkFailed end a leased attempt. MarkRetry
	// and MarkFailed change nothing once the mail is no longer attempt's
	// (another worker took it after the lease lapsed): that worker's
	// attempt decides. MarkRetry fails a withdrawn mail rather than queue
	// it again. MarkSent takes no attempt: a mail the server accepted is
	// sent, whoever holds it now.
	MarkSent(ctx context.Context, id string, now time.Time) error
	MarkRetry(ctx context.Context, id string, attempt int, reason string, next, now time.Time) error
	MarkFailed(ctx context.Context, id string, attempt int, reason string, now time.Time) error
	ListDeliveries(ctx context.Context, q notice.DeliveryQuery) (page.Page[notice.Delivery], error)
	// ReleaseHeldMail takes up to limit held mails, oldest first, of users
	// the directory knows by now, and runs fn for each such user with
	// theirs (oldest first) in the transaction that removes them; a held
	// mail another transaction holds is skipped, never taken twice. It
	// reports how many it took. A registration releases the user's held
	// mail itself (Tx.TakeHeldMail); this pass takes what a registration
	// could not see (a mail held by an event applied concurrently with it)
	// or did not take (one applied by an instance that predates held mail).
	ReleaseHeldMail(ctx context.Context, limit int, fn func(ctx context.Context, tx Tx, u notice.User, held []notice.HeldMail) error) (int, error)
	// PurgeHeldMail deletes the held mails expired before now, of users
	// whose registration never came, and reports how many.
	PurgeHeldMail(ctx context.Context, now time.Time) (int64, error)
	// PurgeSlotOffers deletes the slot offers recorded (Tx.RecordSlotOffer)
	// for slots that began before now, and reports how many.
	PurgeSlotOffers(ctx context.Context, now time.Time) (int64, error)
	// PurgeInbox deletes the claims of events applied before before, and
	// reports how many.
	PurgeInbox(ctx context.Context, before time.Time) (int64, error)

	ListNotifications(ctx context.Context, q notice.InboxQuery) (page.Page[notice.Notification], error)
	UnreadCount(ctx context.Context, userID string) (int, error)
	// MarkRead marks one of userID's notifications read; ErrNotificationNotFound
	// when it is not theirs.
	MarkRead(ctx context.Context, userID, id string, now time.Time) (notice.Notification, error)
	MarkAllRead(ctx context.Context, userID string, now time.Time) (int, error)

	// Preferences returns userID's preferences, the defaults when none are stored.
	Preferences(ctx context.Context, userID string) (notice.Preferences, error)
	// SavePreferences stores p if the stored version is ifMatch
	// (ErrPreferencesChanged otherwise) and returns it at the next version.
	SavePreferences(ctx context.Context, p notice.Preferences, ifMatch int64) (notice.Preferences, error)
}

// Tx is the repository inside the transaction of one event's effect.
type Tx interface {
	User(ctx context.Context, id string) (notice.User, bool, error)
	PutUser(ctx context.Context, u notice.User) error
	Preferences(ctx context.Context, userID string) (notice.Preferences, error)
	AddNotification(ctx context.Context, n notice.Notification) error
	QueueMail(ctx context.Context, d notice.Delivery) error
	// Reminder reads an appointment's reminder and holds it to the end of
	// the transaction, so that two events of one appointment apply one
	// after the other. A reminder that does not exist yet cannot be held
	// (PostgreSQL locks no row that is not there): an event that found
	// none stores its reminder with InsertReminder, never PutReminder.
	Reminder(ctx context.Context, appointmentID string) (notice.Reminder, bool, error)
	// PutReminder stores r over the reminder Reminder found, and fails
	// rather than replace a reminder of a later version (another event's,
	// stored since Reminder read); the event is then applied again.
	PutReminder(ctx context.Context, r notice.Reminder) error
	// InsertReminder adds r, the reminder of an appointment for which
	// Reminder found none, and fails with an error wrapping
	// ErrReminderAdded when another event's transaction added it
	// meanwhile: the event is then applied again, in a new transaction
	// whose Reminder finds, and holds, that event's reminder, so that it
	// withdraws that event's mail rather than leave it queued beside its
	// own.
	InsertReminder(ctx context.Context, r notice.Reminder) error
	// HoldMail keeps a mail for a user the directory does not know yet;
	// TakeHeldMail removes and returns userID's, oldest first.
	HoldMail(ctx context.Context, h notice.HeldMail) error
	TakeHeldMail(ctx context.Context, userID string) ([]notice.HeldMail, error)
	// RecordSlotOffer records that the slot offer of event eventID was
	// made, until the slot's start, and reports false when it was recorded
	// before: an offer has no version or status to check, and a dead
	// letter replayed after inbox.Retention is claimed again.
	RecordSlotOffer(ctx context.Context, eventID string, until time.Time) (bool, error)
	// ChangeMailed reports whether a mail of kind about version of
	// appointmentID was ever queued or held, whatever became of it since.
	ChangeMailed(ctx context.Context, appointmentID string, version int64, kind notice.Kind) (bool, error)
	// WithdrawMail withdraws the mails of kinds about appointmentID
	// written for a version before version that have not gone out, with
	// reason: a queued one fails at once; one a worker holds fails when the
	// worker renews its lease or would put it back in the queue, so that it
	// is sent only if the worker had already handed it to the mail server.
	WithdrawMail(ctx context.Context, appointmentID string, version int64, kinds []notice.Kind, reason string, now time.Time) error
}

// Mail is one message to send.
type Mail struct {
	ID      string // the delivery id, made into the Message-ID
	To      string
	Subject string
	Text    string
	HTML    string
	Date    time.Time
}

// Mailer sends mail. An error wrapping ErrMailRejected is permanent (the
// server refused the message); any other is worth another attempt.
type Mailer interface {
	Send(ctx context.Context, m Mail) error
}

// ErrReminderAdded marks an InsertReminder that lost to another event of
// the appointment, which added its reminder since Reminder found none.
var ErrReminderAdded = errors.New("another event of the appointment added its reminder meanwhile")

// ErrMailRejected marks a permanent refusal by the mail server.
var ErrMailRejected = errors.New("rejected by the mail server")
