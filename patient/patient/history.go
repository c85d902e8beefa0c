package patient

import (
	"strings"
	"time"

	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

// EntryType is the kind of a medical history entry.
type EntryType string

// Entry types.
const (
	TypeCondition     EntryType = "CONDITION"
	TypeAllergy       EntryType = "ALLERGY"
	TypeMedication    EntryType = "MEDICATION"
	TypeProcedure     EntryType = "PROCEDURE"
	TypeImmunization  EntryType = "IMMUNIZATION"
	TypeFamilyHistory EntryType = "FAMILY_HISTORY"
	TypeNote          EntryType = "NOTE"
)

// Valid reports whether t is a known type.
func (t EntryType) Valid() bool {
	switch t {
	case TypeCondition, TypeAllergy, TypeMedication, TypeProcedure, TypeImmunization, TypeFamilyHistory, TypeNote:
		return true
	}
	return false
}

// HasSeverity reports whether entries of type t may carry a severity.
func (t EntryType) HasSeverity() bool { return t == TypeCondition || t == TypeAllergy }

// EntryStatus is the clinical status of an entry.
type EntryStatus string

// Entry statuses. EnteredInError is set only by retracting an entry.
const (
	StatusActive         EntryStatus = "active"
	StatusResolved       EntryStatus = "resolved"
	StatusInactive       EntryStatus = "inactive"
	StatusEnteredInError EntryStatus = "entered-in-error"
)

// Valid reports whether s is a known status, entered-in-error included.
func (s EntryStatus) Valid() bool {
	return s.Settable() || s == StatusEnteredInError
}

// Settable reports whether a client may set s directly.
func (s EntryStatus) Settable() bool {
	return s == StatusActive || s == StatusResolved || s == StatusInactive
}

// Severity grades conditions and allergies.
type Severity string

// Severities.
const (
	SeverityMild     Severity = "mild"
	SeverityModerate Severity = "moderate"
	SeveritySevere   Severity = "severe"
)

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool {
	return s == SeverityMild || s == SeverityModerate || s == SeveritySevere
}

// Limits of history entry text fields, in characters.
const (
	MaxDescriptionLen = 500
	MaxCodeLen        = 64
	MaxCodeSystemLen  = 200
	MaxNotesLen       = 4000
)

// Clinical is what a clinician writes in a history entry.
type Clinical struct {
	Type        EntryType
	Description string
	Code        string
	CodeSystem  string
	Status      EntryStatus
	OnsetDate   civil.Date
	EndDate     civil.Date
	Severity    Severity
	Notes       string
}

// HistoryEntry is one item of a patient's medical history at its current
// revision. RecordedBy/RecordedAt tell who first recorded it; AmendedBy and
// AmendedAt who wrote the current revision, when it is not the first.
type HistoryEntry struct {
	ID        string
	PatientID string
	Clinical
	RecordedBy string
	RecordedAt time.Time
	AmendedBy  string
	AmendedAt  time.Time
	Version    int64
}

// Normalize trims text fields and fills the default status.
func (c *Clinical) Normalize() {
	for _, s := range []*string{&c.Description, &c.Code, &c.CodeSystem} {
		*s = strings.TrimSpace(*s)
	}
	if c.Status == "" {
		c.Status = StatusActive
	}
}

// Validate checks c as of today. Call Normalize first.
func (c Clinical) Validate(today civil.Date) domainerr.FieldErrors {
	var fe domainerr.FieldErrors
	if !c.Type.Valid() {
		fe.Add("type", "must be one of CONDITION, ALLERGY, MEDICATION, PROCEDURE, IMMUNIZATION, FAMILY_HISTORY, NOTE")
	}
	text(&fe, "description", c.Description, MaxDescriptionLen, true)
	text(&fe, "code", c.Code, MaxCodeLen, false)
	text(&fe, "codeSystem", c.CodeSystem, MaxCodeSystemLen, false)
	if c.Code != "" && c.CodeSystem == "" {
		fe.Add("codeSystem", "is required when code is set")
	}
	if !c.Status.Settable() {
		fe.Add("status", "must be one of active, resolved, inactive (entries are retracted with DELETE)")
	}
	if !c.OnsetDate.IsZero() && c.OnsetDate.After(today) {
		fe.Add("onsetDate", "must not be in the future")
	}
	if !c.EndDate.IsZero() {
		switch {
		case c.EndDate.After(today):
			fe.Add("endDate", "must not be in the future")
		case !c.OnsetDate.IsZero() && c.EndDate.Before(c.OnsetDate):
			fe.Add("endDate", "must not be before onsetDate")
		}
	}
	if c.Severity != "" {
		switch {
		case !c.Severity.Valid():
			fe.Add("severity", "must be one of mild, moderate, severe")
		case c.Type.Valid() && !c.Type.HasSeverity():
			fe.Add("severity", "applies only to CONDITION and ALLERGY entries")
		}
	}
	text(&fe, "notes", c.Notes, MaxNotesLen, false)
	return fe
}
