// Package sqlstore implements the auth repositories on database/sql for
// SQLite, MySQL and PostgreSQL, with the migrations for each embedded.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/auth/adapter/sqlstore/migrations"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/signing"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/outbox"
	"github.com/medisync/medisync/shared/sqldb"
)

// Migrations returns the sqlite/, mysql/ and postgres/ migration folders.
func Migrations() fs.FS { return migrations.FS }

// Store is the service.Store on a database. Inside InTx it works on the
// transaction.
type Store struct {
	db *sqldb.DB
	q  sqldb.Querier
	tx *sql.Tx
	// afterEvents runs once a change that wrote events is committed;
	// wroteEvents marks the transaction under way as one that did.
	afterEvents func()
	wroteEvents *bool
}

// AfterEvents sets f to run after each commit that wrote events to the
// outbox: the relay's Notify, so they go out without waiting for its next
// poll. Set it before the store is used.
func (s *Store) AfterEvents(f func()) { s.afterEvents = f }

func (s *Store) eventsCommitted() {
	if s.afterEvents != nil {
		s.afterEvents()
	}
}

// New returns a store over db.
func New(db *sqldb.DB) *Store { return &Store{db: db, q: db.DB} }

var _ service.Store = (*Store)(nil)

// Users returns the user repository.
func (s *Store) Users() service.Users { return users{s} }

// RefreshTokens returns the refresh-token repository.
func (s *Store) RefreshTokens() service.RefreshTokens { return refreshTokens{s} }

// ResetTokens returns the reset-token repository.
func (s *Store) ResetTokens() service.ResetTokens { return resetTokens{s} }

// Revocations returns the revocation feed repository.
func (s *Store) Revocations() service.Revocations { return revocations{s} }

// Outbox returns the outbox, which writes in the store's transaction.
func (s *Store) Outbox() service.Outbox { return outboxWriter{s} }

type outboxWriter struct{ s *Store }

func (o outboxWriter) Write(ctx context.Context, evs ...events.Event) error {
	if err := outbox.Write(ctx, o.s.q, evs...); err != nil {
		return err
	}
	if o.s.tx == nil {
		o.s.eventsCommitted()
	} else if len(evs) > 0 {
		*o.s.wroteEvents = true
	}
	return nil
}

// InTx runs fn in a transaction; nested calls join the outer one.
func (s *Store) InTx(ctx context.Context, fn func(tx service.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	wrote := false
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		wrote = false // a retried transaction starts over
		return fn(&Store{db: s.db, q: tx, tx: tx, afterEvents: s.afterEvents, wroteEvents: &wrote})
	})
	if err == nil && wrote {
		s.eventsCommitted()
	}
	return err
}

// atomically runs fn on the current transaction, or on a new one.
func (s *Store) atomically(ctx context.Context, fn func(q sqldb.Querier) error) error {
	if s.tx != nil {
		return fn(s.tx)
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error { return fn(tx) })
}

// ts is how instants are written: UTC at microseconds, which every dialect
// keep exactly, so that values read back compare equal.
func ts(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func tsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func fromNull(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}

// --- users ---

type users struct{ s *Store }

// columns are the columns scanUser reads, roles joined by commas:
// PostgreSQL names that aggregate string_agg, SQLite and MySQL GROUP_CONCAT.
func (r users) columns() string {
	agg := "GROUP_CONCAT(r.role)"
	if r.s.db.Dialect == sqldb.Postgres {
		agg = "string_agg(r.role, ',')"
	}
	return `u.id, u.email, u.full_name, u.password_hash, u.disabled, u.version, u.created_at, u.updated_at,
	(SELECT ` + agg + ` FROM user_roles r WHERE r.user_id = u.id)`
}

func scanUser(sc sqldb.Scanner) (account.User, error) {
	var (
		u     account.User
		roles sql.NullString
	)
	if err := sc.Scan(&u.ID, &u.Email, &u.FullName, &u.PasswordHash, &u.Disabled, &u.Version,
		&u.CreatedAt, &u.UpdatedAt, &roles); err != nil {
		return account.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	if roles.Valid && roles.String != "" {
		u.Roles = strings.Split(roles.String, ",")
		// The aggregate has no order; the canonical one (ADMIN, DOCTOR,
		// PATIENT) is alphabetical.
		sort.Strings(u.Roles)
	}
	return u, nil
}

// affected runs a statement that changes rows and says how many it changed;
// what names the change in errors.
func affected(ctx context.Context, q sqldb.Querier, what, query string, args ...any) (int64, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", what, err)
	}
	return n, nil
}

func insertRoles(ctx context.Context, q sqldb.Querier, id string, roles []string) error {
	for _, r := range roles {
		if _, err := q.ExecContext(ctx, `INSERT INTO user_roles (user_id, role) VALUES (?, ?)`, id, r); err != nil {
			return fmt.Errorf("insert role: %w", err)
		}
	}
	return nil
}

func (r users) Create(ctx context.Context, u account.User) error {
	return r.s.atomically(ctx, func(q sqldb.Querier) error {
		_, err := q.ExecContext(ctx, `INSERT INTO users
			(id, email, full_name, password_hash, disabled, version, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.Email, u.FullName, u.PasswordHash, u.Disabled, u.Version, ts(u.CreatedAt), ts(u.UpdatedAt))
		if sqldb.IsUniqueViolation(err) {
			return account.ErrEmailTaken
		}
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		return insertRoles(ctx, q, u.ID, u.Roles)
	})
}

func (r users) one(ctx context.Context, where string, arg any) (account.User, error) {
	row := r.s.q.QueryRowContext(ctx, `SELECT `+r.columns()+` FROM users u WHERE `+where, arg)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return account.User{}, account.ErrNotFound
	}
	if err != nil {
		return account.User{}, fmt.Errorf("read user: %w", err)
	}
	return u, nil
}

func (r users) ByID(ctx context.Context, id string) (account.User, error) {
	return r.one(ctx, `u.id = ?`, id)
}

func (r users) Lock(ctx context.Context, id string) error {
	q := `SELECT id FROM users WHERE id = ?`
	if r.s.db.Dialect != sqldb.SQLite { // whose transactions take turns already (begun IMMEDIATE)
		q += ` FOR UPDATE`
	}
	var got string
	err := r.s.q.QueryRowContext(ctx, q, id).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return account.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("lock user: %w", err)
	}
	return nil
}

func (r users) ByEmail(ctx context.Context, email string) (account.User, error) {
	return r.one(ctx, `u.email = ?`, email)
}

func (r users) List(ctx context.Context, q service.UserQuery) ([]account.User, error) {
	query := `SELECT ` + r.columns() + ` FROM users u WHERE u.id > ?`
	args := []any{q.After}
	if q.Role != "" {
		query += ` AND EXISTS (SELECT 1 FROM user_roles f WHERE f.user_id = u.id AND f.role = ?)`
		args = append(args, q.Role)
	}
	query += ` ORDER BY u.id LIMIT ?`
	args = append(args, q.Limit)
	rows, err := r.s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out, err := sqldb.Collect(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

func (r users) Update(ctx context.Context, u account.User) error {
	return r.s.atomically(ctx, func(q sqldb.Querier) error {
		n, err := affected(ctx, q, "update user", `UPDATE users SET email = ?, full_name = ?, password_hash = ?, disabled = ?,
			version = ?, updated_at = ? WHERE id = ? AND version = ?`,
			u.Email, u.FullName, u.PasswordHash, u.Disabled, u.Version, ts(u.UpdatedAt), u.ID, u.Version-1)
		if sqldb.IsUniqueViolation(err) {
			return account.ErrEmailTaken
		}
		if err != nil {
			return err
		}
		if n == 0 {
			var one int
			err := q.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, u.ID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return account.ErrNotFound
			}
			if err != nil {
				return fmt.Errorf("update user: %w", err)
			}
			return account.ErrVersionConflict
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM user_roles WHERE user_id = ?`, u.ID); err != nil {
			return fmt.Errorf("replace roles: %w", err)
		}
		return insertRoles(ctx, q, u.ID, u.Roles)
	})
}

// --- refresh tokens ---

type refreshTokens struct{ s *Store }

func (r refreshTokens) Create(ctx context.Context, t account.RefreshToken) error {
	_, err := r.s.q.ExecContext(ctx, `INSERT INTO refresh_tokens
		(id, token_hash, family_id, user_id, issued_at, expires_at, used_at, revoked_at, session_started_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.FamilyID, t.UserID, ts(t.IssuedAt), ts(t.ExpiresAt), tsPtr(t.UsedAt), tsPtr(t.RevokedAt),
		ts(t.SessionStart()))
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

func (r refreshTokens) ByHash(ctx context.Context, hash string) (account.RefreshToken, error) {
	var (
		t                      account.RefreshToken
		used, revoked, started sql.NullTime
	)
	// session_started_at is NULL in a token an instance of the release
	// before it stored during a rolling upgrade: left zero, the session is
	// read as starting at the token's issue.
	err := r.s.q.QueryRowContext(ctx, `SELECT id, token_hash, family_id, user_id, issued_at, expires_at, used_at, revoked_at,
		session_started_at FROM refresh_tokens WHERE token_hash = ?`, hash).
		Scan(&t.ID, &t.Hash, &t.FamilyID, &t.UserID, &t.IssuedAt, &t.ExpiresAt, &used, &revoked, &started)
	if errors.Is(err, sql.ErrNoRows) {
		return account.RefreshToken{}, account.ErrInvalidRefresh
	}
	if err != nil {
		return account.RefreshToken{}, fmt.Errorf("read refresh token: %w", err)
	}
	t.IssuedAt, t.ExpiresAt = t.IssuedAt.UTC(), t.ExpiresAt.UTC()
	t.UsedAt, t.RevokedAt = fromNull(used), fromNull(revoked)
	if started.Valid {
		t.SessionStartedAt = started.Time.UTC()
	}
	return t, nil
}

func (r refreshTokens) MarkUsed(ctx context.Context, id string, now time.Time) (bool, error) {
	n, err := affected(ctx, r.s.q, "mark refresh token used", `UPDATE refresh_tokens SET used_at = ?
		WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`, ts(now), id)
	return n == 1, err
}

func (r refreshTokens) revoke(ctx context.Context, where string, arg any, now time.Time) (int64, error) {
	return affected(ctx, r.s.q, "revoke refresh tokens", `UPDATE refresh_tokens SET revoked_at = ?
		WHERE `+where+` AND revoked_at IS NULL`, ts(now), arg)
}

func (r refreshTokens) RevokeFamily(ctx context.Context, familyID string, now time.Time) (int64, error) {
	return r.revoke(ctx, `family_id = ?`, familyID, now)
}

func (r refreshTokens) RevokeUser(ctx context.Context, userID string, now time.Time) (int64, error) {
	return r.revoke(ctx, `user_id = ?`, userID, now)
}

func (r refreshTokens) LiveFamilies(ctx context.Context, userID string, since time.Time) ([]string, error) {
	rows, err := r.s.q.QueryContext(ctx, `SELECT DISTINCT family_id FROM refresh_tokens
		WHERE user_id = ? AND revoked_at IS NULL AND issued_at > ? ORDER BY family_id`, userID, ts(since))
	if err != nil {
		return nil, fmt.Errorf("list live sessions: %w", err)
	}
	out, err := sqldb.Collect(rows, func(sc sqldb.Scanner) (string, error) {
		var f string
		err := sc.Scan(&f)
		return f, err
	})
	if err != nil {
		return nil, fmt.Errorf("list live sessions: %w", err)
	}
	return out, nil
}

func (r refreshTokens) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	return affected(ctx, r.s.q, "delete expired refresh tokens", `DELETE FROM refresh_tokens WHERE expires_at < ?`, ts(before))
}

// --- reset tokens ---

type resetTokens struct{ s *Store }

func (r resetTokens) Create(ctx context.Context, t account.ResetToken) error {
	_, err := r.s.q.ExecContext(ctx, `INSERT INTO reset_tokens (token_hash, user_id, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, ?)`, t.Hash, t.UserID, ts(t.CreatedAt), ts(t.ExpiresAt), tsPtr(t.UsedAt))
	if err != nil {
		return fmt.Errorf("insert reset token: %w", err)
	}
	return nil
}

func (r resetTokens) CreateWithin(ctx context.Context, t account.ResetToken, since time.Time, max int) (bool, error) {
	var stored bool
	err := r.s.atomically(ctx, func(q sqldb.Querier) error {
		// Lock the user's row so that concurrent requests count one after
		// another: the count below then sees what the previous holder
		// committed (MySQL and PostgreSQL at their default isolation read
		// each statement's newest commits). SQLite's write transactions hold
		// the database lock from their start already.
		if r.s.db.Dialect != sqldb.SQLite {
			var id string
			err := q.QueryRowContext(ctx, `SELECT id FROM users WHERE id = ? FOR UPDATE`, t.UserID).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				return account.ErrNotFound
			}
			if err != nil {
				return fmt.Errorf("lock user: %w", err)
			}
		}
		var n int
		if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM reset_tokens WHERE user_id = ? AND created_at > ?`,
			t.UserID, ts(since)).Scan(&n); err != nil {
			return fmt.Errorf("count reset tokens: %w", err)
		}
		if n >= max {
			return nil
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO reset_tokens (token_hash, user_id, created_at, expires_at, used_at)
			VALUES (?, ?, ?, ?, ?)`, t.Hash, t.UserID, ts(t.CreatedAt), ts(t.ExpiresAt), tsPtr(t.UsedAt)); err != nil {
			return fmt.Errorf("insert reset token: %w", err)
		}
		stored = true
		return nil
	})
	return stored, err
}

func (r resetTokens) ByHash(ctx context.Context, hash string) (account.ResetToken, error) {
	var (
		t    account.ResetToken
		used sql.NullTime
	)
	err := r.s.q.QueryRowContext(ctx, `SELECT token_hash, user_id, created_at, expires_at, used_at
		FROM reset_tokens WHERE token_hash = ?`, hash).Scan(&t.Hash, &t.UserID, &t.CreatedAt, &t.ExpiresAt, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return account.ResetToken{}, account.ErrInvalidReset
	}
	if err != nil {
		return account.ResetToken{}, fmt.Errorf("read reset token: %w", err)
	}
	t.CreatedAt, t.ExpiresAt, t.UsedAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC(), fromNull(used)
	return t, nil
}

func (r resetTokens) Consume(ctx context.Context, hash string, now time.Time) (bool, error) {
	n, err := affected(ctx, r.s.q, "consume reset token", `UPDATE reset_tokens SET used_at = ?
		WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`, ts(now), hash, ts(now))
	return n == 1, err
}

func (r resetTokens) InvalidateUser(ctx context.Context, userID string, now time.Time) error {
	_, err := r.s.q.ExecContext(ctx, `UPDATE reset_tokens SET used_at = ? WHERE user_id = ? AND used_at IS NULL`,
		ts(now), userID)
	if err != nil {
		return fmt.Errorf("invalidate reset tokens: %w", err)
	}
	return nil
}

func (r resetTokens) CountSince(ctx context.Context, userID string, since time.Time) (int, error) {
	var n int
	err := r.s.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM reset_tokens WHERE user_id = ? AND created_at > ?`,
		userID, ts(since)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count reset tokens: %w", err)
	}
	return n, nil
}

func (r resetTokens) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	return affected(ctx, r.s.q, "delete expired reset tokens", `DELETE FROM reset_tokens WHERE expires_at < ?`, ts(before))
}

// --- revocations ---

type revocations struct{ s *Store }

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (r revocations) Add(ctx context.Context, rs ...authn.Revocation) error {
	if len(rs) == 0 {
		return nil
	}
	return r.s.atomically(ctx, func(q sqldb.Querier) error {
		// See the migration: MySQL and PostgreSQL writers take turns, so
		// that ids commit in order. SQLite has one writer at a time already.
		if r.s.db.Dialect != sqldb.SQLite {
			if _, err := q.ExecContext(ctx, `UPDATE revocation_writer SET writes = writes + 1 WHERE id = 1`); err != nil {
				return fmt.Errorf("lock revocation feed: %w", err)
			}
		}
		for _, rv := range rs {
			if _, err := q.ExecContext(ctx, `INSERT INTO revocations (session_id, user_id, not_before, expires_at)
				VALUES (?, ?, ?, ?)`, nullString(rv.SessionID), nullString(rv.UserID), ts(rv.NotBefore), ts(rv.ExpiresAt)); err != nil {
				return fmt.Errorf("insert revocation: %w", err)
			}
		}
		return nil
	})
}

func (r revocations) After(ctx context.Context, after uint64, now time.Time, limit int) ([]authn.Revocation, uint64, error) {
	rows, err := r.s.q.QueryContext(ctx, `SELECT id, session_id, user_id, not_before, expires_at
		FROM revocations WHERE id > ? ORDER BY id LIMIT ?`, int64(after), limit)
	if err != nil {
		return nil, after, fmt.Errorf("read revocations: %w", err)
	}
	defer rows.Close()
	index, now := after, ts(now)
	var out []authn.Revocation
	for rows.Next() {
		var (
			id            int64
			session, user sql.NullString
			rv            authn.Revocation
		)
		if err := rows.Scan(&id, &session, &user, &rv.NotBefore, &rv.ExpiresAt); err != nil {
			return nil, after, fmt.Errorf("read revocations: %w", err)
		}
		index = uint64(id)
		rv.SessionID, rv.UserID = session.String, user.String
		rv.NotBefore, rv.ExpiresAt = rv.NotBefore.UTC(), rv.ExpiresAt.UTC()
		if rv.ExpiresAt.After(now) {
			out = append(out, rv)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, after, fmt.Errorf("read revocations: %w", err)
	}
	if index == after && after > 0 {
		// Nothing newer. An index above every entry's is one this database
		// never reached (restored from a backup, recreated): answering the
		// newest tells the follower to read again from the start, or the
		// entries now written under its index would never reach it. After
		// a purge of the newest entries this costs a follower a read
		// again, no more.
		var head int64
		if err := r.s.q.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM revocations`).Scan(&head); err != nil {
			return nil, after, fmt.Errorf("read revocations: %w", err)
		}
		if uint64(head) < after {
			index = uint64(head)
		}
	}
	return out, index, nil
}

func (r revocations) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	return affected(ctx, r.s.q, "delete expired revocations", `DELETE FROM revocations WHERE expires_at < ?`, ts(before))
}

// --- signing keys ---

// Keys is the signing.Repository on a database.
type Keys struct{ db *sqldb.DB }

// NewKeys returns the key repository over db.
func NewKeys(db *sqldb.DB) *Keys { return &Keys{db: db} }

var _ signing.Repository = (*Keys)(nil)

// Published returns the keys not retired, or retired after t.
func (k *Keys) Published(ctx context.Context, retiredAfter time.Time) ([]signing.Record, error) {
	rows, err := k.db.QueryContext(ctx, `SELECT kid, algorithm, private_key, sealing, public_key,
		created_at, activates_at, retires_at FROM signing_keys
		WHERE retires_at IS NULL OR retires_at > ? ORDER BY activates_at DESC, kid`, ts(retiredAfter))
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	out, err := sqldb.Collect(rows, scanKey)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return out, nil
}

func scanKey(sc sqldb.Scanner) (signing.Record, error) {
	var (
		r       signing.Record
		retires sql.NullTime
	)
	if err := sc.Scan(&r.KID, &r.Algorithm, &r.Private, &r.Sealing, &r.Public,
		&r.CreatedAt, &r.ActivatesAt, &retires); err != nil {
		return signing.Record{}, err
	}
	r.CreatedAt, r.ActivatesAt, r.RetiresAt = r.CreatedAt.UTC(), r.ActivatesAt.UTC(), fromNull(retires)
	return r, nil
}

func insertKey(ctx context.Context, q sqldb.Querier, r signing.Record) error {
	_, err := q.ExecContext(ctx, `INSERT INTO signing_keys
		(kid, algorithm, private_key, sealing, public_key, created_at, activates_at, retires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.KID, r.Algorithm, r.Private, r.Sealing, r.Public, ts(r.CreatedAt), ts(r.ActivatesAt), tsPtr(r.RetiresAt))
	if err != nil {
		return fmt.Errorf("insert signing key: %w", err)
	}
	return nil
}

// Insert stores a key as it is.
func (k *Keys) Insert(ctx context.Context, r signing.Record) error {
	return insertKey(ctx, k.db, r)
}

// Rotate retires every unretired key when next activates and stores next,
// in one transaction.
func (k *Keys) Rotate(ctx context.Context, next signing.Record) error {
	return k.db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retires_at = ? WHERE retires_at IS NULL`,
			ts(next.ActivatesAt)); err != nil {
			return fmt.Errorf("retire signing keys: %w", err)
		}
		return insertKey(ctx, tx, next)
	})
}

// Prune deletes the keys retired before t.
func (k *Keys) Prune(ctx context.Context, retiredBefore time.Time) (int64, error) {
	return affected(ctx, k.db, "prune signing keys", `DELETE FROM signing_keys WHERE retires_at IS NOT NULL AND retires_at < ?`,
		ts(retiredBefore))
}
