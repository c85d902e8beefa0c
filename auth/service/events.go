package service

import (
	"fmt"
	"net/url"
	"time"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/events"
)

// The event types auth produces (docs/events/<type>.v1.json).
const (
	EventUserRegistered         = "auth.user_registered"
	EventPasswordResetRequested = "auth.password_reset_requested"
)

// defaultLanguage is every account's language until accounts carry one.
const defaultLanguage = "en"

// userRegistered tells other services of a new account, by its primary
// role (the first of ADMIN, DOCTOR, PATIENT it holds).
func userRegistered(u account.User, now time.Time) (events.Event, error) {
	role := authn.RolePatient
	for _, r := range roleOrder {
		if u.Has(r) {
			role = r
			break
		}
	}
	return events.New(EventUserRegistered, 1, u.ID, map[string]string{
		"userId": u.ID, "email": u.Email, "role": role, "language": defaultLanguage,
	}, now)
}

// passwordResetRequested carries the reset link sealed to the event, so
// only a holder of the seal key reads it and only in this event.
func (s *service) passwordResetRequested(u account.User, token string, expires, now time.Time) (events.Event, error) {
	ev, err := events.New(EventPasswordResetRequested, 1, u.ID, nil, now)
	if err != nil {
		return events.Event{}, err
	}
	link := s.ResetURL + "?token=" + url.QueryEscape(token)
	sealed, err := s.EventSeal.Seal([]byte(link), []byte(ev.ID))
	if err != nil {
		return events.Event{}, fmt.Errorf("seal reset link: %w", err)
	}
	// Made again with the data, keeping the id the link is sealed to.
	withData, err := events.New(EventPasswordResetRequested, 1, u.ID, map[string]string{
		"userId": u.ID, "email": u.Email, "language": defaultLanguage,
		"sealedLink": sealed, "expiresAt": expires.UTC().Format(time.RFC3339),
	}, now)
	if err != nil {
		return events.Event{}, err
	}
	withData.ID = ev.ID
	return withData, nil
}
