package service

import (
	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/shared/authn"
)

// Who may do what: every use case asks one of these first.

// authenticated refuses an actor without identity; the HTTP layer normally
// refuses such a request earlier.
func authenticated(actor authn.Principal) error {
	if actor.UserID == "" {
		return profile.ErrUnauthenticated
	}
	return nil
}

func isAdmin(actor authn.Principal) bool { return actor.Has(authn.RoleAdmin) }

// requireAdmin admits administrators only.
func requireAdmin(actor authn.Principal) error {
	if err := authenticated(actor); err != nil {
		return err
	}
	if !isAdmin(actor) {
		return profile.ErrAdminOnly
	}
	return nil
}

// mayCreateDoctor admits administrators and doctors (for their own profile).
func mayCreateDoctor(actor authn.Principal) error {
	if err := authenticated(actor); err != nil {
		return err
	}
	if !actor.HasAny(authn.RoleAdmin, authn.RoleDoctor) {
		return profile.ErrNoCreation
	}
	return nil
}

// mayEditSomeDoctor refuses callers who can edit no doctor at all, before
// anything is looked up.
func mayEditSomeDoctor(actor authn.Principal) error {
	if err := authenticated(actor); err != nil {
		return err
	}
	if !actor.HasAny(authn.RoleAdmin, authn.RoleDoctor) {
		return profile.ErrNotYours
	}
	return nil
}

// mayEdit checks that actor may change doctor d: an administrator, or the
// doctor whose profile it is.
func mayEdit(actor authn.Principal, d profile.Doctor) error {
	if isAdmin(actor) {
		return nil
	}
	if actor.Has(authn.RoleDoctor) && d.UserID != "" && d.UserID == actor.UserID {
		return nil
	}
	return profile.ErrNotYours
}
