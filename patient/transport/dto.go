package transport

import (
	"time"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

// Wire shapes, camelCase as DESIGN.md names them.

type addressJSON struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postalCode,omitempty"`
	Country    string `json:"country"`
}

type contactJSON struct {
	Name         string `json:"name"`
	Relationship string `json:"relationship,omitempty"`
	Phone        string `json:"phone"`
}

type patientJSON struct {
	ID                string       `json:"id"`
	UserID            string       `json:"userId,omitempty"`
	FirstName         string       `json:"firstName"`
	LastName          string       `json:"lastName"`
	DateOfBirth       string       `json:"dateOfBirth"`
	Sex               string       `json:"sex"`
	Email             string       `json:"email,omitempty"`
	Phone             string       `json:"phone,omitempty"`
	Address           *addressJSON `json:"address,omitempty"`
	EmergencyContact  *contactJSON `json:"emergencyContact,omitempty"`
	PreferredLanguage string       `json:"preferredLanguage,omitempty"`
	BloodType         string       `json:"bloodType,omitempty"`
	Active            bool         `json:"active"`
	Version           int64        `json:"version"`
	CreatedAt         time.Time    `json:"createdAt"`
	UpdatedAt         time.Time    `json:"updatedAt"`
}

func toPatientJSON(p patient.Patient) patientJSON {
	out := patientJSON{
		ID: p.ID, UserID: p.UserID, FirstName: p.FirstName, LastName: p.LastName,
		DateOfBirth: p.DateOfBirth.String(), Sex: string(p.Sex), Email: p.Email, Phone: p.Phone,
		PreferredLanguage: p.PreferredLanguage, BloodType: p.BloodType, Active: p.Active, Version: p.Version,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(),
	}
	if a := p.Address; !a.IsZero() {
		out.Address = &addressJSON{Line1: a.Line1, Line2: a.Line2, City: a.City, State: a.State, PostalCode: a.PostalCode, Country: a.Country}
	}
	if c := p.EmergencyContact; !c.IsZero() {
		out.EmergencyContact = &contactJSON{Name: c.Name, Relationship: c.Relationship, Phone: c.Phone}
	}
	return out
}

// patientBody is what POST accepts. userId and active are for
// administrators; version is refused (the version travels in If-Match).
// Fields the server owns (id, createdAt, updatedAt) are unknown fields.
type patientBody struct {
	FirstName         string       `json:"firstName"`
	LastName          string       `json:"lastName"`
	DateOfBirth       string       `json:"dateOfBirth"`
	Sex               string       `json:"sex"`
	Email             string       `json:"email"`
	Phone             string       `json:"phone"`
	Address           *addressJSON `json:"address"`
	EmergencyContact  *contactJSON `json:"emergencyContact"`
	PreferredLanguage string       `json:"preferredLanguage"`
	BloodType         string       `json:"bloodType"`
	UserID            *string      `json:"userId"`
	Active            *bool        `json:"active"`
	Version           *int64       `json:"version"`
}

func (b patientBody) toInput() (service.NewPatient, error) {
	in, fe := b.profile()
	if b.Version != nil {
		fe.Add("version", "is set by the server; send the version you read in If-Match")
	}
	return in, fe.Err()
}

// patientPutBody is what PUT accepts: the whole representation GET gives,
// so that a client may send back what it read with one field changed. The
// service refuses the server's fields when they differ from the record's.
type patientPutBody struct {
	patientBody
	ID        *string    `json:"id"`
	CreatedAt *time.Time `json:"createdAt"`
	UpdatedAt *time.Time `json:"updatedAt"`
}

func (b patientPutBody) toUpdate() (service.PatientUpdate, error) {
	in, fe := b.profile()
	return service.PatientUpdate{NewPatient: in, ID: b.ID, Version: b.Version, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}, fe.Err()
}

func (b patientBody) profile() (service.NewPatient, domainerr.FieldErrors) {
	var fe domainerr.FieldErrors
	in := service.NewPatient{
		Profile: patient.Profile{
			FirstName: b.FirstName, LastName: b.LastName, Sex: patient.Sex(b.Sex), Email: b.Email, Phone: b.Phone,
			PreferredLanguage: b.PreferredLanguage, BloodType: b.BloodType,
		},
		UserID: b.UserID, Active: b.Active,
	}
	if b.DateOfBirth != "" {
		d, err := civil.Parse(b.DateOfBirth)
		if err != nil {
			fe.Add("dateOfBirth", err.Error())
		}
		in.DateOfBirth = d
	}
	if a := b.Address; a != nil {
		in.Address = patient.Address{Line1: a.Line1, Line2: a.Line2, City: a.City, State: a.State, PostalCode: a.PostalCode, Country: a.Country}
	}
	if c := b.EmergencyContact; c != nil {
		in.EmergencyContact = patient.EmergencyContact{Name: c.Name, Relationship: c.Relationship, Phone: c.Phone}
	}
	return in, fe
}

type entryJSON struct {
	ID          string     `json:"id"`
	PatientID   string     `json:"patientId"`
	Type        string     `json:"type"`
	Description string     `json:"description"`
	Code        string     `json:"code,omitempty"`
	CodeSystem  string     `json:"codeSystem,omitempty"`
	Status      string     `json:"status"`
	OnsetDate   string     `json:"onsetDate,omitempty"`
	EndDate     string     `json:"endDate,omitempty"`
	Severity    string     `json:"severity,omitempty"`
	Notes       string     `json:"notes,omitempty"`
	RecordedBy  string     `json:"recordedBy"`
	RecordedAt  time.Time  `json:"recordedAt"`
	AmendedBy   string     `json:"amendedBy,omitempty"`
	AmendedAt   *time.Time `json:"amendedAt,omitempty"`
	Version     int64      `json:"version"`
}

func toEntryJSON(e patient.HistoryEntry) entryJSON {
	out := entryJSON{
		ID: e.ID, PatientID: e.PatientID, Type: string(e.Type), Description: e.Description, Code: e.Code,
		CodeSystem: e.CodeSystem, Status: string(e.Status), OnsetDate: e.OnsetDate.String(), EndDate: e.EndDate.String(),
		Severity: string(e.Severity), Notes: e.Notes, RecordedBy: e.RecordedBy, RecordedAt: e.RecordedAt.UTC(),
		AmendedBy: e.AmendedBy, Version: e.Version,
	}
	if !e.AmendedAt.IsZero() {
		t := e.AmendedAt.UTC()
		out.AmendedAt = &t
	}
	return out
}

// entryBody is what POST of a history entry accepts; recordedBy is
// refused, the server's own fields are unknown fields.
type entryBody struct {
	Type        string  `json:"type"`
	Description string  `json:"description"`
	Code        string  `json:"code"`
	CodeSystem  string  `json:"codeSystem"`
	Status      string  `json:"status"`
	OnsetDate   string  `json:"onsetDate"`
	EndDate     string  `json:"endDate"`
	Severity    string  `json:"severity"`
	Notes       string  `json:"notes"`
	RecordedBy  *string `json:"recordedBy"`
}

// entryPutBody is what PUT of a history entry accepts: the whole
// representation GET gives (see patientPutBody).
type entryPutBody struct {
	entryBody
	ID         *string    `json:"id"`
	PatientID  *string    `json:"patientId"`
	RecordedAt *time.Time `json:"recordedAt"`
	AmendedBy  *string    `json:"amendedBy"`
	AmendedAt  *time.Time `json:"amendedAt"`
	Version    *int64     `json:"version"`
}

func (b entryPutBody) toAmendment() (service.EntryAmendment, error) {
	in, err := b.toInput()
	return service.EntryAmendment{EntryInput: in, ID: b.ID, PatientID: b.PatientID, RecordedAt: b.RecordedAt,
		AmendedBy: b.AmendedBy, AmendedAt: b.AmendedAt, Version: b.Version}, err
}

func (b entryBody) toInput() (service.EntryInput, error) {
	var fe domainerr.FieldErrors
	in := service.EntryInput{
		Clinical: patient.Clinical{
			Type: patient.EntryType(b.Type), Description: b.Description, Code: b.Code, CodeSystem: b.CodeSystem,
			Status: patient.EntryStatus(b.Status), Severity: patient.Severity(b.Severity), Notes: b.Notes,
		},
		RecordedBy: b.RecordedBy,
	}
	for _, d := range []struct {
		field, value string
		into         *civil.Date
	}{{"onsetDate", b.OnsetDate, &in.OnsetDate}, {"endDate", b.EndDate, &in.EndDate}} {
		if d.value == "" {
			continue
		}
		v, err := civil.Parse(d.value)
		if err != nil {
			fe.Add(d.field, err.Error())
		}
		*d.into = v
	}
	return in, fe.Err()
}

type auditJSON struct {
	ID         string    `json:"id"`
	OccurredAt time.Time `json:"occurredAt"`
	UserID     string    `json:"userId"`
	Role       string    `json:"role"`
	Action     string    `json:"action"`
	Resource   string    `json:"resource"`
	PatientID  string    `json:"patientId,omitempty"`
	ResourceID string    `json:"resourceId,omitempty"`
	Outcome    string    `json:"outcome"`
	RequestID  string    `json:"requestId,omitempty"`
}

func toAuditJSON(e patient.AuditEvent) auditJSON {
	return auditJSON{ID: e.ID, OccurredAt: e.OccurredAt.UTC(), UserID: e.UserID, Role: e.Role, Action: string(e.Action),
		Resource: e.Resource, PatientID: e.PatientID, ResourceID: e.ResourceID, Outcome: string(e.Outcome), RequestID: e.RequestID}
}
