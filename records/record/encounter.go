package record

import (
	"strconv"
	"strings"
	"time"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
)

// EncounterStatus is where an encounter's note stands.
type EncounterStatus string

// Encounter statuses. An open note may be edited by its author; a signed one
// never changes again; entered-in-error is how a mistaken encounter is
// withdrawn without deleting it.
const (
	EncounterOpen           EncounterStatus = "open"
	EncounterSigned         EncounterStatus = "signed"
	EncounterEnteredInError EncounterStatus = "entered-in-error"
)

// Valid reports whether s is a known status.
func (s EncounterStatus) Valid() bool {
	return s == EncounterOpen || s == EncounterSigned || s == EncounterEnteredInError
}

// Limits of encounter fields.
const (
	MaxSectionLen     = 20000 // one SOAP section, in characters
	MaxCodedItems     = 50    // diagnoses, prescriptions
	MaxCodeLen        = 64
	MaxCodeSystemLen  = 200
	MaxDisplayLen     = 500
	MaxInstructionLen = 2000
	MaxReasonLen      = 500
	MaxAddendumLen    = 20000
)

// Note is a clinical note in SOAP form.
type Note struct {
	Subjective string
	Objective  string
	Assessment string
	Plan       string
}

// Diagnosis is a condition found, coded when a code is given (e.g. ICD-10
// with its system URI).
type Diagnosis struct {
	Code       string
	CodeSystem string
	Display    string
}

// Prescription is a medication ordered, coded when a code is given (e.g.
// RxNorm).
type Prescription struct {
	Medication   string
	Code         string
	CodeSystem   string
	Dosage       string
	Instructions string
}

// Clinical is what a doctor writes in an encounter.
type Clinical struct {
	AppointmentID string
	Note          Note
	Diagnoses     []Diagnosis
	Prescriptions []Prescription
}

// Encounter is one visit of a patient with a doctor and its note.
type Encounter struct {
	ID        string
	PatientID string
	DoctorID  string // the author's user id (the token's subject)
	Status    EncounterStatus
	Clinical
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SignedAt    time.Time // zero until signed
	ErrorReason string    // why it was marked entered-in-error
	Version     int64
}

// Addendum corrects or completes a signed note; it is never changed.
type Addendum struct {
	ID          string
	EncounterID string
	PatientID   string
	AuthorID    string
	Text        string
	CreatedAt   time.Time
}

// EncounterQuery lists a patient's encounters, newest first.
type EncounterQuery struct {
	PatientID string
	Limit     int
	Cursor    string
}

// Validate checks c, naming each bad field.
func (c Clinical) Validate() error {
	var fe domainerr.FieldErrors
	if c.AppointmentID != "" {
		if _, ok := ids.Canonical(c.AppointmentID); !ok {
			fe.Add("appointmentId", "must be a UUID")
		}
	}
	cleanText(&fe, "note.subjective", c.Note.Subjective, MaxSectionLen, false, true)
	cleanText(&fe, "note.objective", c.Note.Objective, MaxSectionLen, false, true)
	cleanText(&fe, "note.assessment", c.Note.Assessment, MaxSectionLen, false, true)
	cleanText(&fe, "note.plan", c.Note.Plan, MaxSectionLen, false, true)
	// A list over its limit is refused for its length alone, its items
	// unread, so that the answer stays small whatever the body holds.
	if len(c.Diagnoses) > MaxCodedItems {
		fe.Add("diagnoses", "must hold at most "+strconv.Itoa(MaxCodedItems)+" items")
	} else {
		for i, d := range c.Diagnoses {
			p := "diagnoses[" + strconv.Itoa(i) + "]."
			cleanText(&fe, p+"display", d.Display, MaxDisplayLen, true, false)
			coded(&fe, p, d.Code, d.CodeSystem)
		}
	}
	if len(c.Prescriptions) > MaxCodedItems {
		fe.Add("prescriptions", "must hold at most "+strconv.Itoa(MaxCodedItems)+" items")
	} else {
		for i, rx := range c.Prescriptions {
			p := "prescriptions[" + strconv.Itoa(i) + "]."
			cleanText(&fe, p+"medication", rx.Medication, MaxDisplayLen, true, false)
			coded(&fe, p, rx.Code, rx.CodeSystem)
			cleanText(&fe, p+"dosage", rx.Dosage, MaxDisplayLen, false, false)
			cleanText(&fe, p+"instructions", rx.Instructions, MaxInstructionLen, false, true)
		}
	}
	return fe.Err()
}

// coded checks a code and its system: a code needs the system it belongs to.
func coded(fe *domainerr.FieldErrors, prefix, code, system string) {
	cleanText(fe, prefix+"code", code, MaxCodeLen, false, false)
	cleanText(fe, prefix+"codeSystem", system, MaxCodeSystemLen, false, false)
	if strings.TrimSpace(code) != "" && strings.TrimSpace(system) == "" {
		fe.Add(prefix+"codeSystem", "is required with a code")
	}
	if strings.TrimSpace(code) == "" && strings.TrimSpace(system) != "" {
		fe.Add(prefix+"code", "is required with a code system")
	}
}

// ValidateReason checks the reason an entry is marked entered-in-error.
func ValidateReason(field, s string) error {
	var fe domainerr.FieldErrors
	cleanText(&fe, field, s, MaxReasonLen, true, false)
	return fe.Err()
}

// ValidateAddendum checks an addendum's text.
func ValidateAddendum(text string) error {
	var fe domainerr.FieldErrors
	cleanText(&fe, "text", text, MaxAddendumLen, true, true)
	return fe.Err()
}
