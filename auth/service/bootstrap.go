package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/authn"
)

// ErrBootstrapNotAdmin means the first administrator's email belongs to an
// account that is not an active administrator (someone may have registered
// it first); nothing was created or changed.
var ErrBootstrapNotAdmin = errors.New("the account with the administrator's email is not an active ADMIN; it was left unchanged and no administrator was created")

// Bootstrap creates the first administrator from the given credentials
// when no account has that email yet; it never changes an existing account.
// It reports whether it created one, and ErrBootstrapNotAdmin when the
// existing account is not an active administrator.
func Bootstrap(ctx context.Context, d Deps, email, pw string) (bool, error) {
	s := newService(d, Config{})
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		return false, fmt.Errorf("admin email %s", err)
	}
	if err := s.Policy.Check(pw, norm); err != nil {
		return false, fmt.Errorf("admin password %s", err)
	}
	_, err = s.create(ctx, "", norm, "Administrator", pw, []string{authn.RoleAdmin})
	if errors.Is(err, account.ErrEmailTaken) {
		u, err := s.Store.Users().ByEmail(ctx, norm)
		if err != nil {
			return false, fmt.Errorf("load administrator: %w", err)
		}
		if !u.Has(authn.RoleAdmin) || u.Disabled {
			return false, ErrBootstrapNotAdmin
		}
		return false, nil
	}
	return err == nil, err
}
