// Package sqlstore keeps the notification service's directory,
// preferences, inbox, mail queue and reminders in SQLite, MySQL/MariaDB or
// PostgreSQL through database/sql, with the schema in embedded goose
// migrations.
package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/medisync/medisync/notification/notice"
	"github.com/medisync/medisync/notification/service"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/inbox"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Migrations returns the schema migrations, a folder per dialect.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embedded folder is fixed at build time
	}
	return sub
}

// Store is the service's Repository.
type Store struct{ db *sqldb.DB }

var _ service.Repository = (*Store)(nil)

// New returns a Store on a migrated database.
func New(db *sqldb.DB) *Store { return &Store{db: db} }

// maxAttempts bounds how often a transaction or a statement runs when it
// loses to concurrent ones (a deadlock, a serialization failure, a lock
// wait timeout, a busy SQLite file).
const maxAttempts = 5

// inTx runs fn in a transaction, again when it failed only because of
// concurrent ones: the mail workers' statements and the events' withdrawals
// meet on the same rows, and the database may choose either to abort. fn
// starts from scratch each time.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return sqldb.Retry(ctx, maxAttempts, func() error { return s.db.InTx(ctx, fn) })
}

// exec runs one statement, again when it failed only because of concurrent
// transactions: a mail worker that lost a deadlock on MarkSent would
// otherwise leave a mail the server accepted to be sent again once its
// lease lapsed. Every such statement is guarded, so running it again is
// safe.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := sqldb.Retry(ctx, maxAttempts, func() error {
		var err error
		res, err = s.db.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// skipLocked makes a SELECT ... FOR UPDATE pass over rows another
// transaction holds, so that two instances take different work. SQLite has
// one writer at a time and needs none: the guarded UPDATE that follows
// every such SELECT is what keeps a row from being taken twice anywhere.
func (s *Store) skipLocked() string {
	if s.db.Dialect == sqldb.SQLite {
		return ""
	}
	return " FOR UPDATE SKIP LOCKED"
}

func utc(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return utc(t)
}

func timeOf(n sql.NullTime) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return n.Time.UTC()
}

// idCursor is the keyset of a list ordered by id, newest first.
type idCursor struct {
	ID string `json:"id"`
}

// decodeIDCursor reads a cursor whose id must be a canonical UUID: MySQL
// refuses to compare the ASCII id columns with a value outside ASCII.
func decodeIDCursor(s string) (string, error) {
	var c idCursor
	if err := page.DecodeCursor(s, &c); err != nil {
		return "", err
	}
	if s != "" && !ids.Valid(c.ID) {
		return "", page.ErrCursor
	}
	return c.ID, nil
}

// --- events ------------------------------------------------------------------

// Apply claims ev and runs fn in the same transaction.
func (s *Store) Apply(ctx context.Context, ev events.Event, now time.Time, fn func(ctx context.Context, tx service.Tx) error) (bool, error) {
	var fresh bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if fresh, err = inbox.Claim(ctx, tx, s.db.Dialect, ev, now); err != nil || !fresh {
			return err
		}
		return fn(ctx, &txRepo{tx: tx, dialect: s.db.Dialect})
	})
	if err != nil {
		return false, err
	}
	return fresh, nil
}

const reminderCols = `appointment_id, patient_user_id, doctor_name, time_zone, start_at, end_at, due_at, status, version, change_version, updated_at`

func scanReminder(sc sqldb.Scanner) (notice.Reminder, error) {
	var r notice.Reminder
	var end sql.NullTime
	err := sc.Scan(&r.AppointmentID, &r.PatientUserID, &r.DoctorName, &r.TimeZone, &r.Start, &end, &r.DueAt, &r.Status, &r.Version, &r.ChangeVersion, &r.UpdatedAt)
	r.Start, r.End, r.DueAt, r.UpdatedAt = r.Start.UTC(), timeOf(end), r.DueAt.UTC(), r.UpdatedAt.UTC()
	return r, err
}

// FireDueReminders marks due reminders sent, each with fn's effect, in one
// transaction per pass.
func (s *Store) FireDueReminders(ctx context.Context, now time.Time, limit int, fn func(ctx context.Context, tx service.Tx, r notice.Reminder) error) (int, error) {
	now = utc(now)
	fired := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		fired = 0
		// A reminder whose appointment has begun (the service was down) is
		// pointless now.
		if _, err := tx.ExecContext(ctx, `UPDATE reminders SET status = 'skipped', updated_at = ? WHERE status = 'pending' AND start_at <= ?`, now, now); err != nil {
			return fmt.Errorf("skip past reminders: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+reminderCols+` FROM reminders WHERE status = 'pending' AND due_at <= ? ORDER BY due_at LIMIT ?`+s.skipLocked(), now, limit)
		if err != nil {
			return fmt.Errorf("select due reminders: %w", err)
		}
		due, err := sqldb.Collect(rows, scanReminder)
		if err != nil {
			return fmt.Errorf("select due reminders: %w", err)
		}
		repo := &txRepo{tx: tx, dialect: s.db.Dialect}
		for _, r := range due {
			res, err := tx.ExecContext(ctx, `UPDATE reminders SET status = 'sent', updated_at = ? WHERE appointment_id = ? AND status = 'pending' AND version = ?`, now, r.AppointmentID, r.Version)
			if err != nil {
				return fmt.Errorf("take reminder: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				continue // taken or moved meanwhile
			}
			r.Status = notice.ReminderSent
			if err := fn(ctx, repo, r); err != nil {
				return err
			}
			fired++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return fired, nil
}

// --- the mail queue ------------------------------------------------------------

const deliveryCols = `id, user_id, kind, recipient, subject, status, attempts, last_error, next_attempt_at, expires_at, created_at, updated_at, sent_at, appointment_id, appointment_version`

func scanDelivery(sc sqldb.Scanner, bodies bool) (notice.Delivery, error) {
	var d notice.Delivery
	var expires, sent sql.NullTime
	dest := []any{&d.ID, &d.UserID, &d.Kind, &d.Recipient, &d.Subject, &d.Status, &d.Attempts, &d.LastError, &d.NextAttemptAt, &expires, &d.CreatedAt, &d.UpdatedAt, &sent,
		&d.AppointmentID, &d.AppointmentVersion}
	if bodies {
		dest = append(dest, &d.Text, &d.HTML)
	}
	err := sc.Scan(dest...)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = d.NextAttemptAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	d.ExpiresAt, d.SentAt = timeOf(expires), timeOf(sent)
	return d, err
}

const dueMail = `((status = 'queued' AND next_attempt_at <= ?) OR (status = 'sending' AND lease_until <= ?))`

// ClaimMail leases due deliveries; the guarded UPDATE takes each one once
// even where SKIP LOCKED does not exist.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]notice.Delivery, error) {
	now = utc(now)
	var out []notice.Delivery
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `SELECT id FROM deliveries WHERE `+dueMail+` ORDER BY next_attempt_at LIMIT ?`+s.skipLocked(), now, now, limit)
		if err != nil {
			return fmt.Errorf("select due mail: %w", err)
		}
		due, err := sqldb.Collect(rows, func(sc sqldb.Scanner) (string, error) {
			var id string
			return id, sc.Scan(&id)
		})
		if err != nil {
			return fmt.Errorf("select due mail: %w", err)
		}
		for _, id := range due {
			res, err := tx.ExecContext(ctx, `UPDATE deliveries SET status = 'sending', lease_until = ?, attempts = attempts + 1, updated_at = ? WHERE id = ? AND `+dueMail,
				now.Add(lease), now, id, now, now)
			if err != nil {
				return fmt.Errorf("lease mail: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				continue
			}
			d, err := scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryCols+`, body_text, body_html FROM deliveries WHERE id = ?`, id), true)
			if err != nil {
				return fmt.Errorf("read mail: %w", err)
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RenewLease extends an attempt's lease if no other worker has claimed the
// mail since, nor has it been withdrawn: a claim counts an attempt, so the
// count is the lease's token. A withdrawn mail the attempt holds is failed.
//
// The renewal and a withdrawal update the same row, so the database orders
// them: a withdrawal committed first makes the renewal match nothing, and
// one that comes after finds the mail on its way to the server. A
// withdrawal is never undone, so the failing statement that follows a
// renewal refused finds the mark that refused it.
func (s *Store) RenewLease(ctx context.Context, id string, attempt int, until time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE deliveries SET lease_until = ? WHERE id = ? AND status = 'sending' AND attempts = ? AND withdrawn = ''`,
		utc(until), id, attempt)
	if err != nil {
		return false, fmt.Errorf("renew mail lease: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("renew mail lease: %w", err)
	}
	if n == 1 {
		return true, nil
	}
	return false, s.failWithdrawn(ctx, id, attempt)
}

// failWithdrawn fails the withdrawn mail attempt holds with the
// withdrawal's reason, and erases its bodies; its updated_at stays the
// withdrawal's. Nothing changes when the mail was not withdrawn or is
// another attempt's.
func (s *Store) failWithdrawn(ctx context.Context, id string, attempt int) error {
	_, err := s.exec(ctx, `UPDATE deliveries SET status = 'failed', last_error = withdrawn, lease_until = NULL, body_text = '', body_html = ''
		WHERE id = ? AND status = 'sending' AND attempts = ? AND withdrawn <> ''`, id, attempt)
	if err != nil {
		return fmt.Errorf("fail withdrawn mail: %w", err)
	}
	return nil
}

// MarkSent records a sent mail and erases its bodies.
func (s *Store) MarkSent(ctx context.Context, id string, now time.Time) error {
	_, err := s.exec(ctx, `UPDATE deliveries SET status = 'sent', sent_at = ?, updated_at = ?, lease_until = NULL, last_error = '', body_text = '', body_html = '' WHERE id = ? AND status = 'sending'`,
		utc(now), utc(now), id)
	if err != nil {
		return fmt.Errorf("mark sent: %w", err)
	}
	return nil
}

// MarkRetry puts a mail back in the queue until next, if attempt still
// holds it (the attempt count is the lease's token, as in RenewLease); a
// mail withdrawn meanwhile is failed instead, with the withdrawal's reason.
func (s *Store) MarkRetry(ctx context.Context, id string, attempt int, reason string, next, now time.Time) error {
	res, err := s.exec(ctx, `UPDATE deliveries SET status = 'queued', last_error = ?, next_attempt_at = ?, lease_until = NULL, updated_at = ?
		WHERE id = ? AND status = 'sending' AND attempts = ? AND withdrawn = ''`,
		reason, utc(next), utc(now), id, attempt)
	if err != nil {
		return fmt.Errorf("mark retry: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	return s.failWithdrawn(ctx, id, attempt)
}

// MarkFailed gives a mail up with its reason and erases its bodies, if
// attempt still holds it.
func (s *Store) MarkFailed(ctx context.Context, id string, attempt int, reason string, now time.Time) error {
	_, err := s.exec(ctx, `UPDATE deliveries SET status = 'failed', last_error = ?, lease_until = NULL, updated_at = ?, body_text = '', body_html = '' WHERE id = ? AND status = 'sending' AND attempts = ?`,
		reason, utc(now), id, attempt)
	if err != nil {
		return fmt.Errorf("mark failed: %w", err)
	}
	return nil
}

// ListDeliveries pages the delivery report, newest first, without bodies.
func (s *Store) ListDeliveries(ctx context.Context, q notice.DeliveryQuery) (page.Page[notice.Delivery], error) {
	after, err := decodeIDCursor(q.Cursor)
	if err != nil {
		return page.Page[notice.Delivery]{}, err
	}
	var where []string
	var args []any
	if q.Status != "" {
		where, args = append(where, "status = ?"), append(args, q.Status)
	}
	if after != "" {
		where, args = append(where, "id < ?"), append(args, after)
	}
	query := `SELECT ` + deliveryCols + ` FROM deliveries`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit+1)...)
	if err != nil {
		return page.Page[notice.Delivery]{}, fmt.Errorf("list deliveries: %w", err)
	}
	items, err := sqldb.Collect(rows, func(sc sqldb.Scanner) (notice.Delivery, error) { return scanDelivery(sc, false) })
	if err != nil {
		return page.Page[notice.Delivery]{}, fmt.Errorf("list deliveries: %w", err)
	}
	return pageOf(items, q.Limit, func(d notice.Delivery) string { return d.ID }), nil
}

// ReleaseHeldMail takes, oldest first, up to limit held mails whose user
// the directory knows by now, and runs fn for each such user with theirs,
// in one transaction. Rows another pass or a registration holds are
// skipped (SKIP LOCKED; SQLite runs one writer at a time).
func (s *Store) ReleaseHeldMail(ctx context.Context, limit int, fn func(ctx context.Context, tx service.Tx, u notice.User, held []notice.HeldMail) error) (int, error) {
	lock := s.skipLocked()
	if s.db.Dialect == sqldb.Postgres {
		lock = ` FOR UPDATE OF h SKIP LOCKED` // the user's row stays free for their next registration
	}
	var released int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		released = 0
		rows, err := tx.QueryContext(ctx, `SELECT `+heldColsOf("h")+`, u.email, u.role, u.language
			FROM held_mails h JOIN users u ON u.user_id = h.user_id ORDER BY h.created_at, h.id LIMIT ?`+lock, limit)
		if err != nil {
			return fmt.Errorf("select releasable held mail: %w", err)
		}
		type heldFor struct {
			notice.HeldMail
			user notice.User
		}
		found, err := sqldb.Collect(rows, func(sc sqldb.Scanner) (heldFor, error) {
			var h heldFor
			var err error
			h.HeldMail, err = scanHeld(sc, &h.user.Email, &h.user.Role, &h.user.Language)
			h.user.ID = h.UserID
			return h, err
		})
		if err != nil {
			return fmt.Errorf("select releasable held mail: %w", err)
		}
		var users []notice.User
		byUser := map[string][]notice.HeldMail{}
		all := make([]notice.HeldMail, 0, len(found))
		for _, h := range found {
			if _, seen := byUser[h.UserID]; !seen {
				users = append(users, h.user)
			}
			byUser[h.UserID] = append(byUser[h.UserID], h.HeldMail)
			all = append(all, h.HeldMail)
		}
		if err := deleteHeld(ctx, tx, all); err != nil {
			return err
		}
		repo := &txRepo{tx: tx, dialect: s.db.Dialect}
		for _, u := range users {
			if err := fn(ctx, repo, u, byUser[u.ID]); err != nil {
				return err
			}
		}
		released = len(all)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return released, nil
}

func (s *Store) PurgeHeldMail(ctx context.Context, now time.Time) (int64, error) {
	q := sqldb.PurgeQuery(s.db.Dialect, "held_mails", "id", "expires_at < ?", "expires_at")
	n, err := sqldb.Purge(ctx, s.exec, q, utc(now))
	if err != nil {
		return n, fmt.Errorf("purge held mail: %w", err)
	}
	return n, nil
}

func (s *Store) PurgeSlotOffers(ctx context.Context, now time.Time) (int64, error) {
	q := sqldb.PurgeQuery(s.db.Dialect, "slot_offers", "event_id", "expires_at < ?", "expires_at")
	n, err := sqldb.Purge(ctx, s.exec, q, utc(now))
	if err != nil {
		return n, fmt.Errorf("purge slot offers: %w", err)
	}
	return n, nil
}

// offerHorizon is how far ahead of its offer a slot may lie: bookings reach
// 365 days, and a day more for time zones.
const offerHorizon = 367 * 24 * time.Hour

// PurgeInbox first records in slot_offers the slot offers whose claims go,
// so that their dead letters, replayed later, are not offered again: those
// applied before slot_offers existed, and those an older instance applies
// during a rolling upgrade, which record only the claim. Each is kept as
// long as its slot may lie ahead.
func (s *Store) PurgeInbox(ctx context.Context, before time.Time) (int64, error) {
	q := `INSERT INTO slot_offers (event_id, expires_at)
		SELECT event_id, ? FROM processed_events WHERE type = ? AND processed_at < ?
		ON CONFLICT (event_id) DO NOTHING`
	if s.db.Dialect == sqldb.MySQL {
		q = `INSERT IGNORE INTO slot_offers (event_id, expires_at)
		SELECT event_id, ? FROM processed_events WHERE type = ? AND processed_at < ?`
	}
	if _, err := s.exec(ctx, q, utc(before.Add(offerHorizon)), service.TypeSlotFreed, utc(before)); err != nil {
		return 0, fmt.Errorf("record the slot offers of purged claims: %w", err)
	}
	return inbox.Purge(ctx, s.db, s.db.Dialect, before)
}

func pageOf[T any](items []T, limit int, id func(T) string) page.Page[T] {
	p := page.Page[T]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = page.EncodeCursor(idCursor{ID: id(items[limit-1])})
	}
	return p
}

// --- the inbox ---------------------------------------------------------------

const notificationCols = `id, user_id, kind, title, body, created_at, read_at`

func scanNotification(sc sqldb.Scanner) (notice.Notification, error) {
	var n notice.Notification
	var read sql.NullTime
	err := sc.Scan(&n.ID, &n.UserID, &n.Kind, &n.Title, &n.Body, &n.CreatedAt, &read)
	n.CreatedAt, n.ReadAt = n.CreatedAt.UTC(), timeOf(read)
	return n, err
}

// ListNotifications pages a user's inbox, newest first.
func (s *Store) ListNotifications(ctx context.Context, q notice.InboxQuery) (page.Page[notice.Notification], error) {
	after, err := decodeIDCursor(q.Cursor)
	if err != nil {
		return page.Page[notice.Notification]{}, err
	}
	query, args := `SELECT `+notificationCols+` FROM notifications WHERE user_id = ?`, []any{q.UserID}
	if q.UnreadOnly {
		query += ` AND read_at IS NULL`
	}
	if after != "" {
		query, args = query+` AND id < ?`, append(args, after)
	}
	rows, err := s.db.QueryContext(ctx, query+` ORDER BY id DESC LIMIT ?`, append(args, q.Limit+1)...)
	if err != nil {
		return page.Page[notice.Notification]{}, fmt.Errorf("list notifications: %w", err)
	}
	items, err := sqldb.Collect(rows, scanNotification)
	if err != nil {
		return page.Page[notice.Notification]{}, fmt.Errorf("list notifications: %w", err)
	}
	return pageOf(items, q.Limit, func(n notice.Notification) string { return n.ID }), nil
}

// UnreadCount counts a user's unread notifications.
func (s *Store) UnreadCount(ctx context.Context, userID string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count unread: %w", err)
	}
	return n, nil
}

// MarkRead marks one of a user's notifications read, keeping the first
// time it was read.
func (s *Store) MarkRead(ctx context.Context, userID, id string, now time.Time) (notice.Notification, error) {
	if _, err := s.db.ExecContext(ctx, `UPDATE notifications SET read_at = ? WHERE id = ? AND user_id = ? AND read_at IS NULL`, utc(now), id, userID); err != nil {
		return notice.Notification{}, fmt.Errorf("mark read: %w", err)
	}
	n, err := scanNotification(s.db.QueryRowContext(ctx, `SELECT `+notificationCols+` FROM notifications WHERE id = ? AND user_id = ?`, id, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return notice.Notification{}, notice.ErrNotificationNotFound
	}
	if err != nil {
		return notice.Notification{}, fmt.Errorf("read notification: %w", err)
	}
	return n, nil
}

// MarkAllRead marks every unread notification of a user read.
func (s *Store) MarkAllRead(ctx context.Context, userID string, now time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL`, utc(now), userID)
	if err != nil {
		return 0, fmt.Errorf("mark all read: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("mark all read: %w", err)
	}
	return int(n), nil
}

// --- preferences ---------------------------------------------------------------

func preferences(ctx context.Context, q sqldb.Querier, userID string) (notice.Preferences, error) {
	p := notice.Preferences{UserID: userID}
	err := q.QueryRowContext(ctx, `SELECT email, in_app, reminders, version, updated_at FROM preferences WHERE user_id = ?`, userID).
		Scan(&p.Email, &p.InApp, &p.Reminders, &p.Version, &p.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return notice.DefaultPreferences(userID), nil
	}
	if err != nil {
		return notice.Preferences{}, fmt.Errorf("load preferences: %w", err)
	}
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, nil
}

// Preferences returns a user's preferences, the defaults when none are stored.
func (s *Store) Preferences(ctx context.Context, userID string) (notice.Preferences, error) {
	return preferences(ctx, s.db, userID)
}

// SavePreferences stores p over version ifMatch; no stored row is version 1.
func (s *Store) SavePreferences(ctx context.Context, p notice.Preferences, ifMatch int64) (notice.Preferences, error) {
	p.Version, p.UpdatedAt = ifMatch+1, utc(p.UpdatedAt)
	res, err := s.db.ExecContext(ctx, `UPDATE preferences SET email = ?, in_app = ?, reminders = ?, version = ?, updated_at = ? WHERE user_id = ? AND version = ?`,
		p.Email, p.InApp, p.Reminders, p.Version, p.UpdatedAt, p.UserID, ifMatch)
	if err != nil {
		return notice.Preferences{}, fmt.Errorf("update preferences: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return notice.Preferences{}, fmt.Errorf("update preferences: %w", err)
	} else if n == 1 {
		return p, nil
	}
	if ifMatch != 1 {
		return notice.Preferences{}, notice.ErrPreferencesChanged
	}
	// Version 1 is the defaults, stored by the first change; a concurrent
	// first change makes this insert fail, and the caller is stale.
	_, err = s.db.ExecContext(ctx, `INSERT INTO preferences (user_id, email, in_app, reminders, version, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
		p.UserID, p.Email, p.InApp, p.Reminders, p.Version, p.UpdatedAt)
	if sqldb.IsUniqueViolation(err) {
		return notice.Preferences{}, notice.ErrPreferencesChanged
	}
	if err != nil {
		return notice.Preferences{}, fmt.Errorf("insert preferences: %w", err)
	}
	return p, nil
}

// --- inside an event's transaction ---------------------------------------------

type txRepo struct {
	tx      *sql.Tx
	dialect sqldb.Dialect
}

func (t *txRepo) User(ctx context.Context, id string) (notice.User, bool, error) {
	u := notice.User{ID: id}
	err := t.tx.QueryRowContext(ctx, `SELECT email, role, language FROM users WHERE user_id = ?`, id).Scan(&u.Email, &u.Role, &u.Language)
	if errors.Is(err, sql.ErrNoRows) {
		return notice.User{ID: id}, false, nil
	}
	if err != nil {
		return notice.User{}, false, fmt.Errorf("load user: %w", err)
	}
	return u, true, nil
}

// upsert returns the dialect's insert-or-update of cols into table keyed by
// its first column.
func (t *txRepo) upsert(table string, cols []string) string {
	q := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (` + sqldb.Placeholders(len(cols)) + `)`
	var set []string
	for _, c := range cols[1:] {
		if t.dialect == sqldb.MySQL {
			set = append(set, c+" = VALUES("+c+")")
		} else {
			set = append(set, c+" = excluded."+c)
		}
	}
	if t.dialect == sqldb.MySQL {
		return q + ` ON DUPLICATE KEY UPDATE ` + strings.Join(set, ", ")
	}
	return q + ` ON CONFLICT (` + cols[0] + `) DO UPDATE SET ` + strings.Join(set, ", ")
}

func (t *txRepo) PutUser(ctx context.Context, u notice.User) error {
	_, err := t.tx.ExecContext(ctx, t.upsert("users", []string{"user_id", "email", "role", "language"}), u.ID, u.Email, u.Role, u.Language)
	if err != nil {
		return fmt.Errorf("put user: %w", err)
	}
	return nil
}

func (t *txRepo) Preferences(ctx context.Context, userID string) (notice.Preferences, error) {
	return preferences(ctx, t.tx, userID)
}

func (t *txRepo) AddNotification(ctx context.Context, n notice.Notification) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO notifications (`+notificationCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.UserID, n.Kind, n.Title, n.Body, utc(n.CreatedAt), nullTime(n.ReadAt))
	if err != nil {
		return fmt.Errorf("add notification: %w", err)
	}
	return nil
}

func (t *txRepo) QueueMail(ctx context.Context, d notice.Delivery) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO deliveries (id, user_id, kind, recipient, subject, body_text, body_html, status, attempts, last_error, next_attempt_at, expires_at, created_at, updated_at,
		appointment_id, appointment_version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, ?, ?, ?, ?)`,
		d.ID, d.UserID, d.Kind, d.Recipient, d.Subject, d.Text, d.HTML, notice.Queued, utc(d.NextAttemptAt), nullTime(d.ExpiresAt), utc(d.CreatedAt), utc(d.UpdatedAt),
		d.AppointmentID, d.AppointmentVersion)
	if err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	return nil
}

func (t *txRepo) HoldMail(ctx context.Context, h notice.HeldMail) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO held_mails (id, user_id, kind, data, appointment_id, appointment_version, expires_at, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		h.ID, h.UserID, h.Kind, string(h.Data), h.AppointmentID, h.AppointmentVersion, utc(h.ExpiresAt), utc(h.CreatedAt))
	if err != nil {
		return fmt.Errorf("hold mail: %w", err)
	}
	return nil
}

// TakeHeldMail locks the user's held mails (waiting for a release pass that
// holds them, then finding them gone), and deletes what it read, by id: a
// mail held since by a concurrent event is left to the next pass.
func (t *txRepo) TakeHeldMail(ctx context.Context, userID string) ([]notice.HeldMail, error) {
	q := `SELECT ` + heldCols + ` FROM held_mails WHERE user_id = ? ORDER BY created_at, id`
	if t.dialect != sqldb.SQLite {
		q += ` FOR UPDATE`
	}
	rows, err := t.tx.QueryContext(ctx, q, userID)
	if err != nil {
		return nil, fmt.Errorf("read held mail: %w", err)
	}
	out, err := sqldb.Collect(rows, func(sc sqldb.Scanner) (notice.HeldMail, error) { return scanHeld(sc) })
	if err != nil {
		return nil, fmt.Errorf("read held mail: %w", err)
	}
	return out, deleteHeld(ctx, t.tx, out)
}

const heldCols = `id, user_id, kind, data, appointment_id, appointment_version, expires_at, created_at`

// heldColsOf is heldCols of the table named alias in a join.
func heldColsOf(alias string) string {
	return alias + "." + strings.ReplaceAll(heldCols, ", ", ", "+alias+".")
}

// scanHeld reads the heldCols of a row, then more, the columns after them.
func scanHeld(sc sqldb.Scanner, more ...any) (notice.HeldMail, error) {
	var h notice.HeldMail
	var data string
	err := sc.Scan(append([]any{&h.ID, &h.UserID, &h.Kind, &data, &h.AppointmentID, &h.AppointmentVersion, &h.ExpiresAt, &h.CreatedAt}, more...)...)
	h.Data, h.ExpiresAt, h.CreatedAt = []byte(data), h.ExpiresAt.UTC(), h.CreatedAt.UTC()
	return h, err
}

func deleteHeld(ctx context.Context, tx *sql.Tx, held []notice.HeldMail) error {
	if len(held) == 0 {
		return nil
	}
	args := make([]any, len(held))
	for i, h := range held {
		args[i] = h.ID
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM held_mails WHERE id IN (`+sqldb.Placeholders(len(args))+`)`, args...); err != nil {
		return fmt.Errorf("release held mail: %w", err)
	}
	return nil
}

func (t *txRepo) RecordSlotOffer(ctx context.Context, eventID string, until time.Time) (bool, error) {
	q := `INSERT INTO slot_offers (event_id, expires_at) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING`
	if t.dialect == sqldb.MySQL {
		// A duplicate is skipped with a warning, zero rows affected whether
		// or not the session counts found rows; the id is an event id the
		// consumer checked, the time a time, so nothing else is ignored.
		q = `INSERT IGNORE INTO slot_offers (event_id, expires_at) VALUES (?, ?)`
	}
	res, err := t.tx.ExecContext(ctx, q, eventID, utc(until))
	if err != nil {
		return false, fmt.Errorf("record slot offer: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record slot offer: %w", err)
	}
	return n == 1, nil
}

func (t *txRepo) ChangeMailed(ctx context.Context, appointmentID string, version int64, kind notice.Kind) (bool, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM deliveries WHERE appointment_id = ? AND appointment_version = ? AND kind = ?) +
		(SELECT COUNT(*) FROM held_mails WHERE appointment_id = ? AND appointment_version = ? AND kind = ?)`,
		appointmentID, version, kind, appointmentID, version, kind).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read change mail: %w", err)
	}
	return n > 0, nil
}

// WithdrawMail fails the appointment's queued mails of kinds of earlier
// versions and marks those a worker holds, which the worker then fails
// rather than send or queue again (RenewLease, MarkRetry). A mail leased
// meanwhile is left to the second statement: each sees what was committed
// before it.
func (t *txRepo) WithdrawMail(ctx context.Context, appointmentID string, version int64, kinds []notice.Kind, reason string, now time.Time) error {
	if len(kinds) == 0 {
		return nil
	}
	of := ` WHERE appointment_id = ? AND appointment_version < ? AND kind IN (` + sqldb.Placeholders(len(kinds)) + `)`
	args := []any{appointmentID, version}
	for _, k := range kinds {
		args = append(args, k)
	}
	_, err := t.tx.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', last_error = ?, withdrawn = ?, lease_until = NULL, updated_at = ?, body_text = '', body_html = ''`+
		of+` AND status = 'queued'`, append([]any{reason, reason, utc(now)}, args...)...)
	if err != nil {
		return fmt.Errorf("withdraw queued mail: %w", err)
	}
	_, err = t.tx.ExecContext(ctx, `UPDATE deliveries SET withdrawn = ?, updated_at = ?`+of+` AND status = 'sending' AND withdrawn = ''`,
		append([]any{reason, utc(now)}, args...)...)
	if err != nil {
		return fmt.Errorf("withdraw leased mail: %w", err)
	}
	return nil
}

func (t *txRepo) Reminder(ctx context.Context, appointmentID string) (notice.Reminder, bool, error) {
	q := `SELECT ` + reminderCols + ` FROM reminders WHERE appointment_id = ?`
	if t.dialect != sqldb.SQLite {
		// Held to the end of the event's transaction: another event of the
		// appointment waits here and then reads this one's version. SQLite
		// runs one writer at a time anyway.
		q += ` FOR UPDATE`
	}
	r, err := scanReminder(t.tx.QueryRowContext(ctx, q, appointmentID))
	if errors.Is(err, sql.ErrNoRows) {
		return notice.Reminder{}, false, nil
	}
	if err != nil {
		return notice.Reminder{}, false, fmt.Errorf("load reminder: %w", err)
	}
	return r, true, nil
}

func (t *txRepo) PutReminder(ctx context.Context, r notice.Reminder) error {
	args := []any{r.PatientUserID, r.DoctorName, r.TimeZone, utc(r.Start), nullTime(r.End), utc(r.DueAt), r.Status, r.Version, r.ChangeVersion, utc(r.UpdatedAt), r.AppointmentID}
	res, err := t.tx.ExecContext(ctx, `UPDATE reminders SET patient_user_id = ?, doctor_name = ?, time_zone = ?, start_at = ?, end_at = ?,
		due_at = ?, status = ?, version = ?, change_version = ?, updated_at = ? WHERE appointment_id = ? AND version <= ?`, append(args, r.Version)...)
	if err != nil {
		return fmt.Errorf("put reminder: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	// None of this version or older: a plain insert, which fails when a
	// newer event stored the reminder meanwhile (replacing it could bring
	// back a cancelled appointment's reminder); the event is applied again
	// and then finds itself outdated.
	return t.InsertReminder(ctx, r)
}

// InsertReminder adds the reminder of an appointment for which Reminder
// found none. It never falls back to an update: on PostgreSQL and on
// MariaDB at READ COMMITTED, where the read locked no row (no gap locks),
// another event may have added the reminder since, and replacing it would
// leave that event's mail queued beside this one's. The unique key makes
// this insert wait for the other transaction and fail once it commits;
// the service then applies the event again (service.ErrReminderAdded).
// SQLite runs one writer at a time, so the read already saw it.
func (t *txRepo) InsertReminder(ctx context.Context, r notice.Reminder) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO reminders (`+reminderCols+`) VALUES (`+sqldb.Placeholders(11)+`)`,
		r.AppointmentID, r.PatientUserID, r.DoctorName, r.TimeZone, utc(r.Start), nullTime(r.End), utc(r.DueAt), r.Status, r.Version, r.ChangeVersion, utc(r.UpdatedAt))
	if sqldb.IsUniqueViolation(err) {
		return fmt.Errorf("put reminder of appointment %s: %w: %w", r.AppointmentID, service.ErrReminderAdded, err)
	}
	if err != nil {
		return fmt.Errorf("put reminder: %w", err)
	}
	return nil
}
