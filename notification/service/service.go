// Package service holds the notification use cases: applying the events of
// auth and appointment (directory, password reset mail, appointment
// messages, reminders), the mail queue, the in-app inbox, preferences and
// the delivery report for admins.
package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/templates"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/inbox"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/seal"
)

// Service is the notification use cases.
type Service interface {
	// HandleEvent applies one event once, however often it is delivered.
	HandleEvent(ctx context.Context, ev events.Event) error
	// FireDueReminders queues the reminders due now and reports how many.
	FireDueReminders(ctx context.Context) (int, error)
	// DeliverMail makes one pass over the mail queue and reports how many
	// mails it attempted.
	DeliverMail(ctx context.Context) (int, error)
	// Prune deletes what is kept past its use, the held mails of users
	// whose registration never came before the appointment began, the
	// records of slot offers whose slot began, and the
	// claims of events applied longer ago than inbox.Retention, and
	// reports how many rows went.
	Prune(ctx context.Context) (int, error)

	MyNotifications(ctx context.Context, actor authn.Principal, q notice.InboxQuery) (Inbox, error)
	MarkRead(ctx context.Context, actor authn.Principal, id string) (notice.Notification, error)
	MarkAllRead(ctx context.Context, actor authn.Principal) (int, error)
	MyPreferences(ctx context.Context, actor authn.Principal) (notice.Preferences, error)
	UpdatePreferences(ctx context.Context, actor authn.Principal, ifMatch int64, in PreferencesInput) (notice.Preferences, error)
	Deliveries(ctx context.Context, actor authn.Principal, q notice.DeliveryQuery) (page.Page[notice.Delivery], error)
}

// Inbox is a page of a user's notifications with their unread count.
type Inbox struct {
	page.Page[notice.Notification]
	Unread int
}

// PreferencesInput is what a user may change of their preferences, with
// the read-only fields of the representation they read, which a client may
// send back unchanged (nil when left out).
type PreferencesInput struct {
	Email     bool
	InApp     bool
	Reminders bool

	UserID    *string
	Version   *int64
	UpdatedAt *time.Time
}

// Config tunes the service.
type Config struct {
	ReminderLead  time.Duration // how long before an appointment its reminder is due
	MaxAttempts   int           // attempts of a mail before it is given up
	RetryBase     time.Duration // the wait after the first failed attempt, doubled after each
	RetryMax      time.Duration // the longest wait between attempts
	Lease         time.Duration // how long a worker holds a mail it is sending
	Batch         int           // mails or reminders taken in one pass
	SealKey       *seal.Key     // opens reset links; nil refuses reset events
	DefaultExpiry time.Duration // a reset link's lifetime when its event gives none
}

// DefaultConfig is the configuration unless flags say otherwise.
func DefaultConfig() Config {
	return Config{
		ReminderLead: 24 * time.Hour, MaxAttempts: 100, RetryBase: 30 * time.Second, RetryMax: time.Hour,
		Lease: 2 * time.Minute, Batch: 50, DefaultExpiry: time.Hour,
	}
}

// Deps are the service's ports.
type Deps struct {
	Repo      Repository
	Mailer    Mailer
	Templates *templates.Set
	Clock     clock.Clock
	Config    Config
}

type svc struct {
	repo   Repository
	mailer Mailer
	tpl    *templates.Set
	clock  clock.Clock
	cfg    Config
}

// New returns the service on its ports.
func New(d Deps) Service {
	return &svc{repo: d.Repo, mailer: d.Mailer, tpl: d.Templates, clock: d.Clock, cfg: d.Config}
}

func (s *svc) now() time.Time { return s.clock.Now().UTC() }

// --- the mail queue ----------------------------------------------------------

// DeliverMail first queues the held mails of users the directory knows by
// now (ReleaseHeldMail), so that they go out in this pass; a release that
// fails does not hold up the queue, and is reported after it.
func (s *svc) DeliverMail(ctx context.Context) (int, error) {
	var releaseErr error
	if _, err := s.repo.ReleaseHeldMail(ctx, s.cfg.Batch, s.queueHeldMail); err != nil {
		releaseErr = fmt.Errorf("release held mail: %w", err)
	}
	now := s.now()
	batch, err := s.repo.ClaimMail(ctx, now, s.cfg.Lease, s.cfg.Batch)
	if err != nil {
		return 0, errors.Join(releaseErr, fmt.Errorf("claim mail: %w", err))
	}
	for i, d := range batch {
		if err := s.deliver(ctx, d); err != nil {
			return i, errors.Join(releaseErr, err)
		}
	}
	return len(batch), releaseErr
}

func (s *svc) Prune(ctx context.Context) (int, error) {
	now := s.now()
	held, err := s.repo.PurgeHeldMail(ctx, now)
	if err != nil {
		return int(held), fmt.Errorf("prune: %w", err)
	}
	offers, err := s.repo.PurgeSlotOffers(ctx, now)
	if err != nil {
		return int(held + offers), fmt.Errorf("prune: %w", err)
	}
	claims, err := s.repo.PurgeInbox(ctx, now.Add(-inbox.Retention))
	if err != nil {
		return int(held + offers + claims), fmt.Errorf("prune: %w", err)
	}
	return int(held + offers + claims), nil
}

// deliver makes one attempt at d, which the caller has leased.
func (s *svc) deliver(ctx context.Context, d notice.Delivery) error {
	now := s.now()
	if !d.ExpiresAt.IsZero() && !now.Before(d.ExpiresAt) {
		// Unrenewed, the lease may have lapsed and the mail be another
		// worker's now: the attempt guard leaves it to that one.
		return s.repo.MarkFailed(ctx, d.ID, d.Attempts, "expired before it could be sent", now)
	}
	// The batch's lease began when it was claimed; earlier mails of the
	// batch may have taken most of it. Renewing it now gives this send the
	// whole lease, and refuses a mail another worker took meanwhile.
	held, err := s.repo.RenewLease(ctx, d.ID, d.Attempts, now.Add(s.cfg.Lease))
	if err != nil {
		return fmt.Errorf("renew mail lease: %w", err)
	}
	if !held {
		return nil
	}
	err = s.mailer.Send(ctx, Mail{ID: d.ID, To: d.Recipient, Subject: d.Subject, Text: d.Text, HTML: d.HTML, Date: d.CreatedAt})
	now = s.now()
	// The outcome is recorded even when ctx ended meanwhile (a shutdown):
	// a mail the server accepted and left 'sending' would go out again
	// once its lease lapsed.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	switch {
	case err == nil:
		return s.repo.MarkSent(rctx, d.ID, now)
	case ctx.Err() != nil:
		// The send was cut short by the shutdown, no fault of the mail's:
		// the lease lapses and another pass sends it.
		return ctx.Err()
	case errors.Is(err, ErrMailRejected) || d.Attempts >= s.cfg.MaxAttempts:
		return s.repo.MarkFailed(rctx, d.ID, d.Attempts, reason(err), now)
	default:
		return s.repo.MarkRetry(rctx, d.ID, d.Attempts, reason(err), now.Add(s.backoff(d.Attempts)), now)
	}
}

// recordTimeout bounds recording an attempt's outcome once the worker's
// context has ended: one short UPDATE.
const recordTimeout = 5 * time.Second

// backoff is the wait after the attempts-th failed attempt.
func (s *svc) backoff(attempts int) time.Duration {
	d := s.cfg.RetryBase
	for i := 1; i < attempts && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}

// maxReason bounds the reason kept for admins.
const maxReason = 500

// reason is err's message as the report keeps it: a mail server's reply
// may hold any bytes, and MariaDB and PostgreSQL refuse invalid UTF-8 and
// NUL, which would leave the attempt unended and the mail stuck. Control
// characters become spaces; the cut falls between characters.
func reason(err error) string {
	r := strings.Map(func(c rune) rune {
		if unicode.IsControl(c) {
			return ' '
		}
		return c
	}, strings.ToValidUTF8(err.Error(), "\uFFFD"))
	if utf8.RuneCountInString(r) > maxReason {
		r = string([]rune(r)[:maxReason])
	}
	return r
}

// --- the inbox, preferences, deliveries ---------------------------------------

func (s *svc) MyNotifications(ctx context.Context, actor authn.Principal, q notice.InboxQuery) (Inbox, error) {
	q.UserID = actor.UserID
	p, err := s.repo.ListNotifications(ctx, q)
	if err != nil {
		return Inbox{}, fmt.Errorf("list notifications: %w", err)
	}
	n, err := s.repo.UnreadCount(ctx, actor.UserID)
	if err != nil {
		return Inbox{}, fmt.Errorf("count unread: %w", err)
	}
	return Inbox{Page: p, Unread: n}, nil
}

func (s *svc) MarkRead(ctx context.Context, actor authn.Principal, id string) (notice.Notification, error) {
	n, err := s.repo.MarkRead(ctx, actor.UserID, id, s.now())
	if err != nil {
		return notice.Notification{}, fmt.Errorf("mark read: %w", err)
	}
	return n, nil
}

func (s *svc) MarkAllRead(ctx context.Context, actor authn.Principal) (int, error) {
	n, err := s.repo.MarkAllRead(ctx, actor.UserID, s.now())
	if err != nil {
		return 0, fmt.Errorf("mark all read: %w", err)
	}
	return n, nil
}

func (s *svc) MyPreferences(ctx context.Context, actor authn.Principal) (notice.Preferences, error) {
	p, err := s.repo.Preferences(ctx, actor.UserID)
	if err != nil {
		return notice.Preferences{}, fmt.Errorf("load preferences: %w", err)
	}
	return p, nil
}

// UpdatePreferences stores the caller's channels. The read-only fields sent
// back must be those of the stored preferences: a client may send back what
// it read, but not rewrite what the server keeps.
func (s *svc) UpdatePreferences(ctx context.Context, actor authn.Principal, ifMatch int64, in PreferencesInput) (notice.Preferences, error) {
	if ifMatch == 0 {
		return notice.Preferences{}, notice.ErrIfMatchRequired
	}
	cur, err := s.repo.Preferences(ctx, actor.UserID)
	if err != nil {
		return notice.Preferences{}, fmt.Errorf("load preferences: %w", err)
	}
	if ifMatch != cur.Version {
		return notice.Preferences{}, notice.ErrPreferencesChanged
	}
	var fe domainerr.FieldErrors
	if in.UserID != nil && !sameID(*in.UserID, actor.UserID) {
		fe.Add("userId", "cannot be changed: preferences are the caller's own")
	}
	if in.Version != nil && *in.Version != cur.Version {
		fe.Add("version", "is set by the server; send the version you read in If-Match")
	}
	// The defaults were never written: GET gives updatedAt null, and any
	// instant sent is another value.
	if in.UpdatedAt != nil && (cur.UpdatedAt.IsZero() || !in.UpdatedAt.Equal(cur.UpdatedAt)) {
		fe.Add("updatedAt", "is set by the server and differs from the current value")
	}
	if err := fe.Err(); err != nil {
		return notice.Preferences{}, err
	}
	p := notice.Preferences{UserID: actor.UserID, Email: in.Email, InApp: in.InApp, Reminders: in.Reminders, UpdatedAt: s.now()}
	saved, err := s.repo.SavePreferences(ctx, p, ifMatch)
	if err != nil {
		return notice.Preferences{}, fmt.Errorf("save preferences: %w", err)
	}
	return saved, nil
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

func (s *svc) Deliveries(ctx context.Context, actor authn.Principal, q notice.DeliveryQuery) (page.Page[notice.Delivery], error) {
	if !actor.Has(authn.RoleAdmin) {
		return page.Page[notice.Delivery]{}, notice.ErrAdminOnly
	}
	p, err := s.repo.ListDeliveries(ctx, q)
	if err != nil {
		return page.Page[notice.Delivery]{}, fmt.Errorf("list deliveries: %w", err)
	}
	return p, nil
}

// newID is a new row id.
func newID() string { return ids.New() }
