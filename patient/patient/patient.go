// Package patient holds the patient domain: profiles, medical history entries
// with their revisions, audit events, the rules that validate them and the
// errors the use cases report.
package patient

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/langtag"
)

// Domain errors, each of the kind that decides its status; their messages
// are fit for clients.
var (
	ErrNotFound             = domainerr.New(domainerr.NotFound, "no such record")
	ErrForbidden            = domainerr.New(domainerr.Forbidden, "your role may not do this")
	ErrProfileExists        = domainerr.New(domainerr.Conflict, "this user already has a patient profile")
	ErrStaleVersion         = domainerr.New(domainerr.Stale, "the record has changed since the version given in If-Match")
	ErrPreconditionRequired = domainerr.New(domainerr.PreconditionRequired, "send If-Match with the version you read")
	ErrEnteredInError       = domainerr.New(domainerr.Conflict, "the entry is marked entered-in-error and cannot change")
	ErrNotTreating          = domainerr.New(domainerr.Forbidden, "only the patient's treating doctors read and write their history")
	// ErrUserLinked refuses moving a profile to another account, or
	// clearing its account: appointments keep the patient's account from
	// the time of booking and grant access by it.
	ErrUserLinked = domainerr.New(domainerr.Conflict, "the account of a profile is fixed once linked, because appointments grant access by it; deactivate the profile and create a new one for the other account")
)

// Sex is administrative sex.
type Sex string

// Known sexes.
const (
	SexFemale  Sex = "female"
	SexMale    Sex = "male"
	SexOther   Sex = "other"
	SexUnknown Sex = "unknown"
)

// Valid reports whether s is a known value.
func (s Sex) Valid() bool {
	switch s {
	case SexFemale, SexMale, SexOther, SexUnknown:
		return true
	}
	return false
}

// BloodTypes are the ABO/Rh blood types accepted.
var bloodTypes = map[string]bool{"A+": true, "A-": true, "B+": true, "B-": true, "AB+": true, "AB-": true, "O+": true, "O-": true}

// Address is a postal address; Country is ISO 3166-1 alpha-2.
type Address struct {
	Line1      string
	Line2      string
	City       string
	State      string
	PostalCode string
	Country    string
}

// IsZero reports whether no field is set.
func (a Address) IsZero() bool { return a == Address{} }

// EmergencyContact is whom to call for the patient.
type EmergencyContact struct {
	Name         string
	Relationship string
	Phone        string
}

// IsZero reports whether no field is set.
func (e EmergencyContact) IsZero() bool { return e == EmergencyContact{} }

// Profile is the personal information a patient or an administrator edits.
type Profile struct {
	FirstName         string
	LastName          string
	DateOfBirth       civil.Date
	Sex               Sex
	Email             string
	Phone             string
	Address           Address
	EmergencyContact  EmergencyContact
	PreferredLanguage string
	BloodType         string
}

// Patient is a patient's record: the profile plus what the system manages.
type Patient struct {
	ID     string
	UserID string // the auth account's id; "" when the patient has none
	Profile
	Active    bool
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Field length limits, in characters.
const (
	MaxNameLen     = 100
	MaxEmailLen    = 254
	MaxLineLen     = 200
	MaxCityLen     = 100
	MaxPostalLen   = 20
	MaxRelationLen = 50
	MaxLangLen     = langtag.MaxLen
)

var (
	e164    = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	country = regexp.MustCompile(`^[A-Z]{2}$`)
)

// EarliestBirth bounds dates of birth from below, to catch typos.
var EarliestBirth = civil.MustParse("1900-01-01")

// Normalize trims surrounding blanks from every text field and fills
// defaults, so that validation and storage see one canonical form.
func (p *Profile) Normalize() {
	for _, s := range []*string{&p.FirstName, &p.LastName, &p.Email, &p.Phone, &p.PreferredLanguage, &p.BloodType,
		&p.Address.Line1, &p.Address.Line2, &p.Address.City, &p.Address.State, &p.Address.PostalCode, &p.Address.Country,
		&p.EmergencyContact.Name, &p.EmergencyContact.Relationship, &p.EmergencyContact.Phone} {
		*s = strings.TrimSpace(*s)
	}
	if c, ok := langtag.Canonical(p.PreferredLanguage); ok {
		p.PreferredLanguage = c // as doctors' languages are written: EN is en
	}
	if p.Sex == "" {
		p.Sex = SexUnknown
	}
}

// Validate checks p as of today and returns field errors (nil if valid).
// Call Normalize first.
func (p Profile) Validate(today civil.Date) domainerr.FieldErrors {
	var fe domainerr.FieldErrors
	text(&fe, "firstName", p.FirstName, MaxNameLen, true)
	text(&fe, "lastName", p.LastName, MaxNameLen, true)
	switch {
	case p.DateOfBirth.IsZero():
		fe.Add("dateOfBirth", "is required")
	case p.DateOfBirth.After(today):
		fe.Add("dateOfBirth", "must not be in the future")
	case p.DateOfBirth.Before(EarliestBirth):
		fe.Add("dateOfBirth", "must not be before "+EarliestBirth.String())
	}
	if !p.Sex.Valid() {
		fe.Add("sex", "must be one of female, male, other, unknown")
	}
	if p.Email != "" && !ValidEmail(p.Email) {
		fe.Add("email", "must be an email address such as name@example.org")
	}
	if p.Phone != "" && !e164.MatchString(p.Phone) {
		fe.Add("phone", "must be in E.164 form, such as +14155550123")
	}
	if !p.Address.IsZero() {
		a := p.Address
		text(&fe, "address.line1", a.Line1, MaxLineLen, true)
		text(&fe, "address.line2", a.Line2, MaxLineLen, false)
		text(&fe, "address.city", a.City, MaxCityLen, true)
		text(&fe, "address.state", a.State, MaxCityLen, false)
		text(&fe, "address.postalCode", a.PostalCode, MaxPostalLen, false)
		if !country.MatchString(a.Country) {
			fe.Add("address.country", "must be an ISO 3166-1 alpha-2 code such as DE or US")
		}
	}
	if !p.EmergencyContact.IsZero() {
		ec := p.EmergencyContact
		text(&fe, "emergencyContact.name", ec.Name, MaxLineLen, true)
		text(&fe, "emergencyContact.relationship", ec.Relationship, MaxRelationLen, false)
		if !e164.MatchString(ec.Phone) {
			fe.Add("emergencyContact.phone", "must be in E.164 form, such as +14155550123")
		}
	}
	if _, ok := langtag.Canonical(p.PreferredLanguage); p.PreferredLanguage != "" && !ok {
		fe.Add("preferredLanguage", "must be a language tag such as en or pt-BR")
	}
	if p.BloodType != "" && !bloodTypes[p.BloodType] {
		fe.Add("bloodType", "must be one of A+, A-, B+, B-, AB+, AB-, O+, O-")
	}
	return fe
}

// ValidEmail reports whether s is a bare email address of sane length.
func ValidEmail(s string) bool {
	if len(s) > MaxEmailLen {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".")
}

// text validates a free-text field: required or not, a length bound in
// characters, and no control characters.
func text(fe *domainerr.FieldErrors, field, v string, max int, required bool) {
	switch {
	case v == "":
		if required {
			fe.Add(field, "is required")
		}
	case !utf8.ValidString(v):
		fe.Add(field, "must be valid UTF-8 text")
	case utf8.RuneCountInString(v) > max:
		fe.Add(field, "must be at most "+strconv.Itoa(max)+" characters")
	case HasControl(v, allowsNewlines(field)):
		fe.Add(field, "must not contain control characters")
	}
}

// allowsNewlines names the multi-line fields.
func allowsNewlines(field string) bool { return field == "notes" }

// HasControl reports whether s holds a control character; with multiLine,
// line breaks and tabs are text. NUL in particular is never stored:
// PostgreSQL refuses it in any text column.
func HasControl(s string, multiLine bool) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		if multiLine && (r == '\n' || r == '\r' || r == '\t') {
			return false
		}
		return unicode.IsControl(r)
	}) >= 0
}

// NormalizeName is the searchable form of a name: lower case, blanks trimmed.
func NormalizeName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// NormalizeEmail is the comparable form of an email address.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
