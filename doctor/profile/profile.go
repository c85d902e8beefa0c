// Package profile holds doctors' profiles and the catalog of
// specializations: their fields, the rules they obey, and the errors the
// doctor service reports about them.
package profile

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/langtag"
)

// Errors of the doctor domain. Their messages are shown to clients; their
// kinds decide the HTTP status.
var (
	ErrDoctorNotFound         = domainerr.New(domainerr.NotFound, "no doctor with this id")
	ErrNoProfile              = domainerr.New(domainerr.NotFound, "you have no doctor profile yet")
	ErrSpecializationNotFound = domainerr.New(domainerr.NotFound, "no specialization with this id")
	ErrLicenseTaken           = domainerr.New(domainerr.Conflict, "another doctor already has this license number")
	ErrUserHasProfile         = domainerr.New(domainerr.Conflict, "this user already has a doctor profile")
	ErrSpecializationNameUsed = domainerr.New(domainerr.Conflict, "a specialization with this name already exists")
	ErrSpecializationInUse    = domainerr.New(domainerr.Conflict, "the specialization is assigned to doctors; remove it from them first")
	ErrStale                  = domainerr.New(domainerr.Stale, "the resource was changed since you read it; read it again and retry")
	ErrPreconditionRequired   = domainerr.New(domainerr.PreconditionRequired, "send If-Match with the ETag you read; updates without it are refused")
	// ErrUserLinked refuses re-linking a profile: appointments keep the
	// doctor's account from the time of booking and grant access by it.
	ErrUserLinked = domainerr.New(domainerr.Conflict, "the account of a profile is fixed once linked, because appointments grant access by it; deactivate the profile and create a new one for the other account")

	ErrUnauthenticated = domainerr.New(domainerr.Unauthenticated, "a bearer token is required")
	ErrAdminOnly       = domainerr.New(domainerr.Forbidden, "only an administrator may do this")
	ErrNotYours        = domainerr.New(domainerr.Forbidden, "a doctor may change only their own profile and availability")
	ErrNoCreation      = domainerr.New(domainerr.Forbidden, "only an administrator or a doctor may create a doctor profile")
)

// Bounds of a doctor's fields.
const (
	MaxNameLength           = 100
	MaxEmailLength          = 254
	MaxLicenseLength        = 64
	MaxBioLength            = 4000
	MaxLanguages            = 20
	MaxLanguageLength       = langtag.MaxLen // the column's width
	MaxSpecializations      = 20
	MinAppointmentMinutes   = 5
	MaxAppointmentMinutes   = 240
	DefaultAppointmentMins  = 30
	MaxSpecializationName   = 100
	MaxSpecializationDetail = 1000
)

// Bounds of a name search. The length is in characters, as the OpenAPI
// document's maxLength counts them, so that any script gets the same room;
// each word costs the search a subquery, hence the few words.
const (
	MaxSearchLength = 100
	MaxSearchWords  = 4
)

// Specialization is an entry of the catalog.
type Specialization struct {
	ID          string
	Name        string
	Description string
	Version     int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// NameKey is the form of a specialization name that must be unique: names
// differing only in case or surrounding blanks are the same name.
func NameKey(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// Normalize trims the specialization's fields and checks them.
func (s *Specialization) Normalize() error {
	var fe domainerr.FieldErrors
	s.Name = strings.Join(strings.Fields(s.Name), " ")
	s.Description = strings.TrimSpace(s.Description)
	switch {
	case s.Name == "":
		fe.Add("name", "is required")
	case utf8.RuneCountInString(s.Name) > MaxSpecializationName:
		fe.Add("name", fmt.Sprintf("must be at most %d characters", MaxSpecializationName))
	case hasControl(s.Name):
		fe.Add("name", "must not contain control characters")
	}
	switch {
	case utf8.RuneCountInString(s.Description) > MaxSpecializationDetail:
		fe.Add("description", fmt.Sprintf("must be at most %d characters", MaxSpecializationDetail))
	case hasControlInText(s.Description):
		fe.Add("description", textControlMessage)
	}
	return fe.Err()
}

// Doctor is a doctor's profile.
type Doctor struct {
	ID string
	// UserID links the profile to its auth account; "" when not linked yet.
	UserID             string
	FirstName          string
	LastName           string
	Email              string
	Phone              string
	LicenseNumber      string
	SpecializationIDs  []string
	Specializations    []Specialization // filled on reads, in name order
	Bio                string
	Languages          []string
	TimeZone           string
	AppointmentMinutes int
	Active             bool
	Version            int64
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

var (
	emailPattern   = regexp.MustCompile(`^[^@\s\p{Cc}]+@[^@\s\p{Cc}]+\.[^@\s\p{Cc}]+$`)
	phonePattern   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	licensePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ./-]*$`)
)

// Normalize trims and canonicalizes the doctor's fields and checks them,
// reporting every invalid field. The time zone must be an IANA name known
// to the time zone database.
func (d *Doctor) Normalize() error {
	var fe domainerr.FieldErrors
	d.FirstName = strings.Join(strings.Fields(d.FirstName), " ")
	d.LastName = strings.Join(strings.Fields(d.LastName), " ")
	d.Email = strings.TrimSpace(d.Email)
	d.Phone = strings.TrimSpace(d.Phone)
	d.LicenseNumber = strings.TrimSpace(d.LicenseNumber)
	d.Bio = strings.TrimSpace(d.Bio)
	d.TimeZone = strings.TrimSpace(d.TimeZone)

	name := func(field, v string) {
		switch {
		case v == "":
			fe.Add(field, "is required")
		case utf8.RuneCountInString(v) > MaxNameLength:
			fe.Add(field, fmt.Sprintf("must be at most %d characters", MaxNameLength))
		case hasControl(v):
			fe.Add(field, "must not contain control characters")
		}
	}
	name("firstName", d.FirstName)
	name("lastName", d.LastName)
	switch {
	case d.Email == "":
		fe.Add("email", "is required")
	case len(d.Email) > MaxEmailLength || !emailPattern.MatchString(d.Email):
		fe.Add("email", "must be an email address")
	}
	if d.Phone != "" && !phonePattern.MatchString(d.Phone) {
		fe.Add("phone", "must be an E.164 number such as +14155550123")
	}
	switch {
	case d.LicenseNumber == "":
		fe.Add("licenseNumber", "is required")
	case len(d.LicenseNumber) > MaxLicenseLength || !licensePattern.MatchString(d.LicenseNumber):
		fe.Add("licenseNumber", fmt.Sprintf("must be at most %d letters, digits, spaces, dots, slashes or dashes", MaxLicenseLength))
	}
	switch {
	case utf8.RuneCountInString(d.Bio) > MaxBioLength:
		fe.Add("bio", fmt.Sprintf("must be at most %d characters", MaxBioLength))
	case hasControlInText(d.Bio):
		fe.Add("bio", textControlMessage)
	}
	if d.AppointmentMinutes == 0 {
		d.AppointmentMinutes = DefaultAppointmentMins
	}
	if d.AppointmentMinutes < MinAppointmentMinutes || d.AppointmentMinutes > MaxAppointmentMinutes {
		fe.Add("appointmentMinutes", fmt.Sprintf("must be between %d and %d", MinAppointmentMinutes, MaxAppointmentMinutes))
	}
	if _, err := civil.LoadZone(d.TimeZone); err != nil {
		fe.Add("timeZone", err.Error())
	}

	if len(d.Languages) > MaxLanguages {
		fe.Add("languages", fmt.Sprintf("must hold at most %d languages", MaxLanguages))
	} else {
		seen := map[string]bool{}
		langs := make([]string, 0, len(d.Languages))
		for i, l := range d.Languages {
			c, ok := langtag.Canonical(l)
			if !ok {
				fe.Add(fmt.Sprintf("languages[%d]", i), "must be a language tag such as en, fr or pt-BR")
				continue
			}
			if !seen[c] {
				seen[c] = true
				langs = append(langs, c)
			}
		}
		d.Languages = langs
	}

	if len(d.SpecializationIDs) > MaxSpecializations {
		fe.Add("specializationIds", fmt.Sprintf("must hold at most %d ids", MaxSpecializations))
	} else {
		seen := map[string]bool{}
		canon := make([]string, 0, len(d.SpecializationIDs))
		for i, id := range d.SpecializationIDs {
			c, ok := ids.Canonical(id)
			if !ok {
				fe.Add(fmt.Sprintf("specializationIds[%d]", i), "must be a UUID")
				continue
			}
			if !seen[c] {
				seen[c] = true
				canon = append(canon, c)
			}
		}
		d.SpecializationIDs = canon
	}
	return fe.Err()
}

// hasControl reports whether s holds a control character (NUL, escape...),
// which a one-line field has no use for.
func hasControl(s string) bool { return strings.IndexFunc(s, unicode.IsControl) >= 0 }

// hasControlInText reports whether a multi-line text holds a control
// character other than a line break (LF, or CR as CRLF brings) or a tab.
// PostgreSQL refuses NUL in text, and the others have no place in prose
// shown to patients.
func hasControlInText(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' })
}

const textControlMessage = "must not contain control characters other than line breaks and tabs"

// HasControl reports whether s is not valid UTF-8 or holds a control
// character, which no search term or cursor key may: PostgreSQL refuses
// NUL and invalid UTF-8, and MySQL refuses to compare some of them.
func HasControl(s string) bool { return !utf8.ValidString(s) || hasControl(s) }

// ErrZoneUnusable is the answer to a request that needs the doctor's
// stored time zone when it cannot be loaded (a zone stored before the rule
// of civil.LoadZone, or dropped from the zone database): the profile needs
// another zone before the hours mean anything.
var ErrZoneUnusable = domainerr.New(domainerr.Conflict,
	"the doctor's time zone is not one this service knows; set an IANA time zone such as Europe/Berlin on the profile")

// NamePrefixes splits a name search into lower-case words; each must begin
// the first or the last name of a match. It keeps every word: the caller
// refuses more than MaxSearchWords rather than match on fewer.
func NamePrefixes(q string) []string {
	return strings.Fields(strings.ToLower(q))
}

// NameTokens returns the lower-case words of a doctor's names that name
// searches match by prefix: each word, and each part of a hyphenated word.
func NameTokens(first, last string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(w string) {
		if w != "" && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	for _, w := range strings.Fields(strings.ToLower(first + " " + last)) {
		add(w)
		if strings.Contains(w, "-") {
			for _, part := range strings.Split(w, "-") {
				add(part)
			}
		}
	}
	return out
}
