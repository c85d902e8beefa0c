// Package account holds the auth domain: users, the rules an email address and a name follow, sessions, reset tokens and the domain errors.
package account

import (
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/domainerr"
)

// Domain errors. Their messages are fit for clients: the transport shows them.
var (
	ErrNotFound           = domainerr.New(domainerr.NotFound, "no user with this id")
	ErrEmailTaken         = domainerr.New(domainerr.Conflict, "an account with this email address already exists")
	ErrInvalidCredentials = domainerr.New(domainerr.Unauthenticated, "the email address or password is wrong")
	ErrDisabled           = domainerr.New(domainerr.Forbidden, "the account is disabled")
	ErrVersionConflict    = domainerr.New(domainerr.Conflict, "the user was changed by someone else; read it again and retry")
	ErrForbidden          = domainerr.New(domainerr.Forbidden, "this action needs the ADMIN role")
	ErrSelfLockout        = domainerr.New(domainerr.Conflict, "an administrator cannot disable their own account or drop their own ADMIN role")
	ErrInvalidRefresh     = domainerr.New(domainerr.Unauthenticated, "the refresh token is invalid, expired or revoked")
	ErrRefreshReused      = domainerr.New(domainerr.Unauthenticated, "the refresh token was already used; the session has been revoked")
	ErrUnauthenticated    = domainerr.New(domainerr.Unauthenticated, "the access token does not name an active account")
	// ErrInvalidReset is a 400 naming the token field; the transport says so.
	ErrInvalidReset = domainerr.New(domainerr.Invalid, "the reset token is invalid, expired or already used")
	// ErrPreconditionFailed means If-Match named a version that is not current.
	ErrPreconditionFailed = domainerr.New(domainerr.Stale, "the user has changed since the version given in If-Match")
)

// MaxEmailLength is the longest address SMTP carries (RFC 5321 path limit).
const MaxEmailLength = 254

// User is an account. Email is stored normalized (lower case), which makes
// addresses unique regardless of case.
type User struct {
	ID           string
	Email        string
	FullName     string
	PasswordHash string
	Roles        []string
	Disabled     bool
	Version      int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Has reports whether u holds role.
func (u User) Has(role string) bool { return slices.Contains(u.Roles, role) }

// NormalizeEmail validates an address and returns its stored form: trimmed
// and lower-cased. Only plain ASCII addresses are accepted: quoted local
// parts, comments, display names and internationalized addresses are
// refused with a clear message rather than half-supported.
func NormalizeEmail(s string) (string, error) {
	// The limit holds for the input as sent, blanks included (the
	// documented maxLength), so the address kept is never a slice of a
	// far longer request string.
	if len(s) > MaxEmailLength {
		return "", errors.New("must be at most 254 characters")
	}
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", errors.New("is required")
	case !utf8.ValidString(s):
		return "", errors.New("must be valid UTF-8")
	}
	for _, r := range s {
		if r > unicode.MaxASCII {
			return "", errors.New("must contain ASCII characters only")
		}
		if r == '"' || r == '\\' || r == '(' || r == ')' || r == '<' || r == '>' || r == ',' || r == ';' || r == ':' ||
			r == '[' || r == ']' || r <= ' ' || r == 0x7f {
			return "", errors.New("must be a plain address such as name@example.org, without quotes, spaces or brackets")
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 || strings.Count(s, "@") != 1 {
		return "", errors.New("must contain exactly one @")
	}
	local, domain := s[:at], s[at+1:]
	if err := checkLocal(local); err != nil {
		return "", err
	}
	if err := checkDomain(domain); err != nil {
		return "", err
	}
	return strings.ToLower(s), nil
}

func checkLocal(local string) error {
	if local == "" || len(local) > 64 {
		return errors.New("must have a part of 1 to 64 characters before the @")
	}
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return errors.New("must not start or end the part before the @ with a dot, nor hold two dots in a row")
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if isAlnum(c) || strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0 {
			continue
		}
		return errors.New("has a character not allowed before the @")
	}
	return nil
}

func checkDomain(domain string) error {
	if domain == "" || len(domain) > 253 {
		return errors.New("must have a domain after the @")
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return errors.New("must have a domain with a dot, such as example.org")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return errors.New("must have a valid domain after the @")
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return errors.New("must have a valid domain after the @")
			}
		}
	}
	tld := labels[len(labels)-1]
	if len(tld) < 2 {
		return errors.New("must have a valid domain after the @")
	}
	for i := 0; i < len(tld); i++ {
		if !isAlpha(tld[i]) {
			return errors.New("must have a valid domain after the @")
		}
	}
	return nil
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isAlpha(c) || (c >= '0' && c <= '9') }

// MaxFullNameLength bounds a full name, counted in characters.
const MaxFullNameLength = 200

// NormalizeFullName trims a name and checks it: 1 to 200 characters, no
// control characters. Any script is welcome.
func NormalizeFullName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("must be valid UTF-8")
	}
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return "", errors.New("is required")
	}
	if n > MaxFullNameLength {
		return "", errors.New("must be at most 200 characters")
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return "", errors.New("must not contain control characters")
		}
	}
	return s, nil
}

// Validate gathers the field errors of a new user's profile fields and
// returns the normalized email and name.
func Validate(email, fullName string) (string, string, error) {
	var fe domainerr.FieldErrors
	e, err := NormalizeEmail(email)
	if err != nil {
		fe.Add("email", err.Error())
	}
	n, err := NormalizeFullName(fullName)
	if err != nil {
		fe.Add("fullName", err.Error())
	}
	return e, n, fe.Err()
}

// RefreshToken is one link of a session's rotation chain. Only the SHA-256
// of the opaque token is stored; FamilyID ties the chain together so that a
// replayed token revokes the whole session.
type RefreshToken struct {
	ID        string
	Hash      string
	FamilyID  string
	UserID    string
	IssuedAt  time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
	RevokedAt *time.Time
	// SessionStartedAt is when the sign-in session (the family) began,
	// carried from token to token; zero is IssuedAt, a session's first.
	SessionStartedAt time.Time
}

// SessionStart is when the token's sign-in session began.
func (t RefreshToken) SessionStart() time.Time {
	if t.SessionStartedAt.IsZero() {
		return t.IssuedAt
	}
	return t.SessionStartedAt
}

// ResetToken is a single-use password reset token, stored as a hash.
type ResetToken struct {
	Hash      string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}
