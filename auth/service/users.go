package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-kit/log/level"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/events"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/page"
)

// roleOrder lists every role in the order they are stored and shown.
var roleOrder = []string{authn.RoleAdmin, authn.RoleDoctor, authn.RolePatient}

// normalizeRoles checks a role list and returns it deduplicated, in the
// canonical order. allowed limits which roles may appear (default: all).
func normalizeRoles(roles []string, allowed ...string) ([]string, error) {
	if len(roles) == 0 {
		return nil, errors.New("must name at least one role")
	}
	if len(allowed) == 0 {
		allowed = roleOrder
	}
	set := map[string]bool{}
	for _, r := range roles {
		if !slices.Contains(allowed, r) {
			return nil, errors.New("may hold only " + strings.Join(allowed, ", "))
		}
		set[r] = true
	}
	out := make([]string, 0, len(set))
	for _, r := range roleOrder {
		if set[r] {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *service) Register(ctx context.Context, in RegisterInput) error {
	email, name, ferr := account.Validate(in.Email, in.FullName)
	fe, _ := ferr.(domainerr.FieldErrors)
	if err := s.Policy.Check(in.Password, email); err != nil {
		fe.Add("password", err.Error())
	}
	if len(fe) > 0 {
		return fe
	}
	// A taken address is answered like a new one, so the answer does not
	// tell who has an account; the password is hashed either way so the
	// time does not tell either, and the owner hears of the attempt.
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	owner, err := s.Store.Users().ByEmail(ctx, email)
	switch {
	case err == nil:
		s.tellOwner(ctx, owner)
		return nil
	case !errors.Is(err, account.ErrNotFound):
		return fmt.Errorf("look up email: %w", err)
	}
	_, err = s.insertUser(ctx, "", email, name, hash, []string{authn.RolePatient})
	if errors.Is(err, account.ErrEmailTaken) {
		// Registered in the meantime by a parallel request.
		if owner, err := s.Store.Users().ByEmail(ctx, email); err == nil {
			s.tellOwner(ctx, owner)
		}
		return nil
	}
	return err
}

// tellOwner lets the owner of u know that their address was registered
// again, after the answer (like a reset link) so that a mail server's round
// trip does not tell either. Failures are logged, never answered.
func (s *service) tellOwner(ctx context.Context, u account.User) {
	work := func(ctx context.Context) {
		err := s.Notifier.AccountExists(ctx, AccountExists{UserID: u.ID, Email: u.Email, FullName: u.FullName})
		if err != nil {
			_ = level.Error(logging.FromContext(ctx, s.Logger)).Log(
				"msg", "existing account notification failed", "userId", u.ID, "err", err)
		}
	}
	if s.Background == nil {
		work(ctx)
		return
	}
	if !s.Background.Go(context.WithoutCancel(ctx), work) {
		_ = level.Warn(logging.FromContext(ctx, s.Logger)).Log("msg", "existing account notification dropped: too many in progress")
	}
}

// create makes an account for an administrator, adminID, or for the
// bootstrap, which passes "".
func (s *service) create(ctx context.Context, adminID, email, name, pw string, roles []string) (account.User, error) {
	// Checked before hashing so a duplicate costs no hashing work; the
	// unique index still decides under races. Only administrators and the
	// bootstrap create accounts this way, and they may know who has one.
	if _, err := s.Store.Users().ByEmail(ctx, email); err == nil {
		return account.User{}, account.ErrEmailTaken
	} else if !errors.Is(err, account.ErrNotFound) {
		return account.User{}, fmt.Errorf("look up email: %w", err)
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return account.User{}, fmt.Errorf("hash password: %w", err)
	}
	return s.insertUser(ctx, adminID, email, name, hash, roles)
}

// insertUser stores a new account. adminID, when not "", is the
// administrator creating it, checked again under the lock of their row: one
// demoted or disabled while the password hashed must not hand the role
// they lost to an account they make. Their row is the only one locked; the
// new user's does not exist yet, and the unique email decides between two
// creations of one address.
func (s *service) insertUser(ctx context.Context, adminID, email, name, hash string, roles []string) (account.User, error) {
	now := s.now()
	u := account.User{
		ID: ids.New(), Email: email, FullName: name, PasswordHash: hash, Roles: roles,
		Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	ev, err := userRegistered(u, now)
	if err != nil {
		return account.User{}, err
	}
	err = s.Store.InTx(ctx, func(tx Store) error {
		if adminID != "" {
			if err := lockAdmin(ctx, tx, adminID); err != nil {
				return err
			}
		}
		if err := tx.Users().Create(ctx, u); err != nil {
			return fmt.Errorf("create user: %w", err)
		}
		return tx.Outbox().Write(ctx, ev)
	})
	if err != nil {
		return account.User{}, err
	}
	return u, nil
}

// activeUser loads the account the actor's token names: a token outlives
// a deletion or a disabling, the stored account is what counts.
func (s *service) activeUser(ctx context.Context, actor authn.Principal) (account.User, error) {
	u, err := s.Store.Users().ByID(ctx, actor.UserID)
	if errors.Is(err, account.ErrNotFound) {
		return account.User{}, account.ErrUnauthenticated
	}
	if err != nil {
		return account.User{}, fmt.Errorf("load caller: %w", err)
	}
	if u.Disabled {
		return account.User{}, account.ErrDisabled
	}
	return u, nil
}

func (s *service) Me(ctx context.Context, actor authn.Principal) (account.User, error) {
	return s.activeUser(ctx, actor)
}

// requireAdmin checks the caller against the database, not only the token:
// a disabled or demoted administrator loses access at once.
func (s *service) requireAdmin(ctx context.Context, actor authn.Principal) (account.User, error) {
	u, err := s.activeUser(ctx, actor)
	if err != nil {
		return account.User{}, err
	}
	if !u.Has(authn.RoleAdmin) {
		return account.User{}, account.ErrForbidden
	}
	return u, nil
}

// lockAdmin locks, in tx, the row of the administrator making a change,
// with those of the users it changes, in id order (the order any two
// users' rows are taken in), and checks the administrator still is one.
// Two administrators demoting or disabling each other at once then take
// turns, and the second is refused: checked only before the transaction,
// both would pass and leave no administrator.
func lockAdmin(ctx context.Context, tx Store, adminID string, users ...string) error {
	order := slices.Sorted(slices.Values(append([]string{adminID}, users...)))
	for _, id := range slices.Compact(order) {
		// A row gone is found out by the reads after the locks.
		if err := tx.Users().Lock(ctx, id); err != nil && !errors.Is(err, account.ErrNotFound) {
			return fmt.Errorf("lock user: %w", err)
		}
	}
	return stillAdmin(ctx, tx, adminID)
}

// stillAdmin reads, under the lock of their row, the administrator making
// a change and refuses one deleted, disabled or demoted since.
func stillAdmin(ctx context.Context, tx Store, adminID string) error {
	admin, err := tx.Users().ByID(ctx, adminID)
	switch {
	case errors.Is(err, account.ErrNotFound):
		return account.ErrUnauthenticated
	case err != nil:
		return fmt.Errorf("load caller: %w", err)
	case admin.Disabled:
		return account.ErrDisabled
	case !admin.Has(authn.RoleAdmin):
		return account.ErrForbidden
	}
	return nil
}

func (s *service) CreateUser(ctx context.Context, actor authn.Principal, in CreateUserInput) (account.User, error) {
	// Checked here so that a refused caller costs no hashing, and again in
	// the transaction that inserts the account.
	admin, err := s.requireAdmin(ctx, actor)
	if err != nil {
		return account.User{}, err
	}
	email, name, ferr := account.Validate(in.Email, in.FullName)
	fe, _ := ferr.(domainerr.FieldErrors)
	if err := s.Policy.Check(in.Password, email); err != nil {
		fe.Add("password", err.Error())
	}
	// Left out is a missing field, as the document's required says; sent
	// empty, a list without a role.
	var roles []string
	if in.Roles == nil {
		fe.Add("roles", "is required")
	} else if roles, err = normalizeRoles(in.Roles, authn.RoleAdmin, authn.RoleDoctor); err != nil {
		fe.Add("roles", err.Error())
	}
	if len(fe) > 0 {
		return account.User{}, fe
	}
	return s.create(ctx, admin.ID, email, name, in.Password, roles)
}

func (s *service) ListUsers(ctx context.Context, actor authn.Principal, in ListUsersInput) (page.Page[account.User], error) {
	if _, err := s.requireAdmin(ctx, actor); err != nil {
		return page.Page[account.User]{}, err
	}
	limit, after, fe := userPageArgs(in.Limit, in.Cursor)
	if in.Role != "" && !authn.ValidRole(in.Role) {
		fe.Add("role", "must be ADMIN, DOCTOR or PATIENT")
	}
	if len(fe) > 0 {
		return page.Page[account.User]{}, fe
	}
	users, err := s.Store.Users().List(ctx, UserQuery{Role: in.Role, After: after, Limit: limit + 1})
	if err != nil {
		return page.Page[account.User]{}, fmt.Errorf("list users: %w", err)
	}
	p := page.Page[account.User]{Items: users}
	if len(users) > limit {
		p.Items = users[:limit]
		p.NextCursor = page.EncodeCursor(users[limit-1].ID)
	}
	return p, nil
}

// userPageArgs checks a page's limit and cursor by the rules of every list
// (docs/architecture.md, "Lists"): the limit to read (page.DefaultLimit for
// 0) and the id the page follows.
func userPageArgs(limit int, cursor string) (int, string, domainerr.FieldErrors) {
	var fe domainerr.FieldErrors
	switch {
	case limit == 0:
		limit = page.DefaultLimit
	case limit < 1 || limit > page.MaxLimit:
		fe = append(fe, page.ErrLimit...)
	}
	after, err := decodeUserCursor(cursor)
	if err != nil {
		fe = append(fe, page.ErrCursor...)
	}
	return limit, after, fe
}

// AnnounceUsers writes auth.user_registered once more for each account of
// the page, disabled ones included: the event is how consumers learn an
// account exists (notification's directory), and one that missed the first
// (deployed later, restored from an older backup) is rebuilt from these.
// Each event is the registration's, with the account's primary role as it
// is now and an id of its own, so that consumers' inboxes, which dropped
// nothing they never received, apply it. The page and its events are one
// transaction: a failed call writes none and may simply be repeated, and a
// repeated page is harmless, as consumers upsert.
func (s *service) AnnounceUsers(ctx context.Context, actor authn.Principal, in AnnounceUsersInput) (Announced, error) {
	if _, err := s.requireAdmin(ctx, actor); err != nil {
		return Announced{}, err
	}
	limit, after, fe := userPageArgs(in.Limit, in.Cursor)
	if len(fe) > 0 {
		return Announced{}, fe
	}
	var out Announced
	err := s.Store.InTx(ctx, func(tx Store) error {
		users, err := tx.Users().List(ctx, UserQuery{After: after, Limit: limit + 1})
		if err != nil {
			return fmt.Errorf("list users: %w", err)
		}
		out = Announced{}
		if len(users) > limit {
			users = users[:limit]
			out.NextCursor = page.EncodeCursor(users[limit-1].ID)
		}
		now := s.now()
		evs := make([]events.Event, 0, len(users))
		for _, u := range users {
			ev, err := userRegistered(u, now)
			if err != nil {
				return fmt.Errorf("announce user %s: %w", u.ID, err)
			}
			evs = append(evs, ev)
		}
		if err := tx.Outbox().Write(ctx, evs...); err != nil {
			return fmt.Errorf("write announcements: %w", err)
		}
		out.Count = len(evs)
		return nil
	})
	if err != nil {
		return Announced{}, err
	}
	return out, nil
}

// decodeUserCursor returns the id a users cursor follows; "" for the first
// page. Only a canonical UUID is one this service issued.
func decodeUserCursor(c string) (string, error) {
	var id string
	if err := page.DecodeCursor(c, &id); err != nil {
		return "", err
	}
	if c == "" {
		return "", nil
	}
	if canon, ok := ids.Canonical(id); !ok || canon != id {
		return "", page.ErrCursor
	}
	return id, nil
}

func (s *service) GetUser(ctx context.Context, actor authn.Principal, id string) (account.User, error) {
	if _, err := s.requireAdmin(ctx, actor); err != nil {
		return account.User{}, err
	}
	u, err := s.Store.Users().ByID(ctx, id)
	if err != nil {
		return account.User{}, fmt.Errorf("load user: %w", err)
	}
	return u, nil
}

func (s *service) UpdateUser(ctx context.Context, actor authn.Principal, in UpdateUserInput) (account.User, error) {
	admin, err := s.requireAdmin(ctx, actor)
	if err != nil {
		return account.User{}, err
	}
	var fe domainerr.FieldErrors
	var roles []string
	if in.Roles == nil && in.Disabled == nil {
		fe.Add("body", "must change roles or disabled")
	}
	if in.Roles != nil {
		if roles, err = normalizeRoles(*in.Roles); err != nil {
			fe.Add("roles", err.Error())
		}
	}
	if len(fe) > 0 {
		return account.User{}, fe
	}
	if in.ID == admin.ID && ((in.Disabled != nil && *in.Disabled) || (roles != nil && !slices.Contains(roles, authn.RoleAdmin))) {
		return account.User{}, account.ErrSelfLockout
	}
	var (
		out     account.User
		revoked []authn.Revocation
	)
	err = s.Store.InTx(ctx, func(tx Store) error {
		// Locked first, and the time taken after: a token issued while this
		// waited is then of an earlier second than the change's NotBefore.
		if err := lockAdmin(ctx, tx, admin.ID, in.ID); err != nil {
			return err
		}
		u, err := tx.Users().ByID(ctx, in.ID)
		if err != nil {
			return fmt.Errorf("load user: %w", err)
		}
		if in.IfMatch != nil && *in.IfMatch != u.Version {
			return domainerr.StaleFor(int64(*in.IfMatch), account.ErrPreconditionFailed)
		}
		now := s.now()
		disabling := in.Disabled != nil && *in.Disabled && !u.Disabled
		rolesChange := roles != nil && !slices.Equal(roles, u.Roles)
		if roles != nil {
			u.Roles = roles
		}
		if in.Disabled != nil {
			u.Disabled = *in.Disabled
		}
		u.Version++
		u.UpdatedAt = now
		if err := tx.Users().Update(ctx, u); err != nil {
			return fmt.Errorf("update user: %w", err)
		}
		// Tokens issued before carry the old roles or come from a disabled
		// account: withdraw them, those of the current second included.
		// Disabling also ends the sessions and voids reset links.
		switch {
		case disabling:
			if revoked, err = s.revokeUser(ctx, tx, u.ID, now, nextSecond(now)); err != nil {
				return err
			}
			if _, err := tx.RefreshTokens().RevokeUser(ctx, u.ID, now); err != nil {
				return fmt.Errorf("revoke sessions: %w", err)
			}
			// A link sent before must not set a password once the account
			// is enabled again.
			if err := tx.ResetTokens().InvalidateUser(ctx, u.ID, now); err != nil {
				return fmt.Errorf("invalidate reset tokens: %w", err)
			}
		case rolesChange:
			revoked = []authn.Revocation{s.userRevocation(u.ID, nextSecond(now))}
		}
		out = u
		return tx.Revocations().Add(ctx, revoked...)
	})
	if err != nil {
		return account.User{}, err
	}
	s.published(revoked)
	return out, nil
}
