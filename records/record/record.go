// Package record holds the clinical records of a patient: encounters with
// their signed SOAP notes, addenda, diagnoses and prescriptions; documents
// with FHIR DocumentReference-like metadata; and the audit events of every
// access to them.
package record

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/domainerr"
)

// Errors of the records domain, with messages fit for clients.
var (
	ErrNotFound       = domainerr.New(domainerr.NotFound, "no such record")
	ErrForbidden      = domainerr.New(domainerr.Forbidden, "your role may not do this")
	ErrReasonRequired = domainerr.New(domainerr.Forbidden, "reading clinical content as an administrator is a break-glass access: give a reason (header X-Access-Reason or query reason)")
	ErrStaleVersion   = domainerr.New(domainerr.Stale, "the record has changed since the version given in If-Match")
	ErrSigned         = domainerr.New(domainerr.Conflict, "the note is signed and cannot change: add an addendum")
	ErrNotSigned      = domainerr.New(domainerr.Conflict, "addenda are added to signed notes only; edit the open note instead")
	ErrEnteredInError = domainerr.New(domainerr.Conflict, "the record is marked entered-in-error and cannot change")
	// ErrPreconditionRequired refuses a change without If-Match (or with
	// "*"), once the caller's rights are checked.
	ErrPreconditionRequired = domainerr.New(domainerr.PreconditionRequired, "send If-Match with the version you read")
	// ErrNotCurrent refuses a new version of a replaced or retracted
	// document. Marking entered in error is not limited so: any version may
	// be wrong (FHIR allows it of every version).
	ErrNotCurrent       = domainerr.New(domainerr.Conflict, "only the current version of a document can be replaced")
	ErrUnknownEncounter = domainerr.New(domainerr.Invalid, "encounterId names no encounter of this patient")
	// ErrEncounterEnteredInError refuses a document's link to an encounter
	// marked entered-in-error, which takes nothing new, as it takes no
	// addendum.
	ErrEncounterEnteredInError = domainerr.New(domainerr.Conflict, "encounterId names an encounter marked entered-in-error, which takes no new document: link another encounter, or none")
	// ErrUnknownAppointment refuses an encounter linked to an appointment
	// the doctor does not hold with this patient, or one that did not or
	// will not take place.
	ErrUnknownAppointment = domainerr.New(domainerr.Invalid, "appointmentId names no appointment of yours with this patient that is booked, under way or fulfilled")
	// ErrNotYourDocument refuses a patient's new version of a document a
	// clinician filed.
	ErrNotYourDocument = domainerr.New(domainerr.Forbidden, "a patient may replace only the documents they uploaded; ask the clinic to file a new version")
	ErrPresignDisabled = domainerr.New(domainerr.Conflict, "this store hands out no links: ask for the content itself")
)

// cleanText checks a free-text field: valid UTF-8, no control characters
// (line breaks and tabs too when multiLine), at most max characters.
func cleanText(fe *domainerr.FieldErrors, field, s string, max int, required, multiLine bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		fe.Add(field, "is required")
	case !utf8.ValidString(s) || hasControl(s, multiLine):
		fe.Add(field, "must be text without control characters")
	case utf8.RuneCountInString(s) > max:
		fe.Add(field, "must be at most "+itoa(max)+" characters")
	}
}

func hasControl(s string, multiLine bool) bool {
	return strings.IndexFunc(s, func(r rune) bool {
		if multiLine && (r == '\n' || r == '\r' || r == '\t') {
			return false
		}
		return unicode.IsControl(r)
	}) >= 0
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
