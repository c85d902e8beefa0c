package transport

import (
	"time"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/service"
)

type noteJSON struct {
	Subjective string `json:"subjective"`
	Objective  string `json:"objective"`
	Assessment string `json:"assessment"`
	Plan       string `json:"plan"`
}

type diagnosisJSON struct {
	Code       string `json:"code"`
	CodeSystem string `json:"codeSystem"`
	Display    string `json:"display"`
}

type prescriptionJSON struct {
	Medication   string `json:"medication"`
	Code         string `json:"code"`
	CodeSystem   string `json:"codeSystem"`
	Dosage       string `json:"dosage"`
	Instructions string `json:"instructions"`
}

// clinicalBody is what a doctor sends to open or update an encounter.
type clinicalBody struct {
	AppointmentID string             `json:"appointmentId"`
	Note          noteJSON           `json:"note"`
	Diagnoses     []diagnosisJSON    `json:"diagnoses"`
	Prescriptions []prescriptionJSON `json:"prescriptions"`
}

func (b clinicalBody) toClinical() record.Clinical {
	c := record.Clinical{AppointmentID: b.AppointmentID, Note: record.Note(b.Note)}
	for _, d := range b.Diagnoses {
		c.Diagnoses = append(c.Diagnoses, record.Diagnosis(d))
	}
	for _, p := range b.Prescriptions {
		c.Prescriptions = append(c.Prescriptions, record.Prescription(p))
	}
	return c
}

// encounterPutBody is what PUT accepts: the representation GET gives, so
// that a client may send back what it read with the note changed. The
// service refuses the read-only fields when they differ from the
// encounter's. A null appointmentId, as GET gives for none, is left out.
type encounterPutBody struct {
	clinicalBody
	ID          *string        `json:"id"`
	PatientID   *string        `json:"patientId"`
	DoctorID    *string        `json:"doctorId"`
	Status      *string        `json:"status"`
	CreatedAt   *time.Time     `json:"createdAt"`
	UpdatedAt   *time.Time     `json:"updatedAt"`
	SignedAt    *time.Time     `json:"signedAt"`
	ErrorReason *string        `json:"enteredInErrorReason"`
	Addenda     []addendumJSON `json:"addenda"`
	Version     *int64         `json:"version"`
}

func (b encounterPutBody) toUpdate() service.EncounterUpdate {
	u := service.EncounterUpdate{
		Clinical: b.toClinical(), ID: b.ID, PatientID: b.PatientID, DoctorID: b.DoctorID,
		CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt, SignedAt: b.SignedAt, ErrorReason: b.ErrorReason, Version: b.Version,
	}
	if b.Status != nil {
		st := record.EncounterStatus(*b.Status)
		u.Status = &st
	}
	for _, a := range b.Addenda {
		u.Addenda = append(u.Addenda, record.Addendum{ID: a.ID, EncounterID: a.EncounterID, AuthorID: a.AuthorID, Text: a.Text, CreatedAt: a.CreatedAt})
	}
	return u
}

type encounterJSON struct {
	ID            string             `json:"id"`
	PatientID     string             `json:"patientId"`
	DoctorID      string             `json:"doctorId"`
	AppointmentID *string            `json:"appointmentId"`
	Status        string             `json:"status"`
	Note          noteJSON           `json:"note"`
	Diagnoses     []diagnosisJSON    `json:"diagnoses"`
	Prescriptions []prescriptionJSON `json:"prescriptions"`
	CreatedAt     time.Time          `json:"createdAt"`
	UpdatedAt     time.Time          `json:"updatedAt"`
	SignedAt      *time.Time         `json:"signedAt"`
	ErrorReason   *string            `json:"enteredInErrorReason,omitempty"`
	Addenda       []addendumJSON     `json:"addenda,omitempty"`
	Version       int64              `json:"version"`
}

type addendumJSON struct {
	ID          string    `json:"id"`
	EncounterID string    `json:"encounterId"`
	AuthorID    string    `json:"authorId"`
	Text        string    `json:"text"`
	CreatedAt   time.Time `json:"createdAt"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toEncounterJSON(e record.Encounter) encounterJSON {
	out := encounterJSON{
		ID: e.ID, PatientID: e.PatientID, DoctorID: e.DoctorID, AppointmentID: optional(e.AppointmentID),
		Status: string(e.Status), Note: noteJSON(e.Note), Diagnoses: []diagnosisJSON{}, Prescriptions: []prescriptionJSON{},
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, ErrorReason: optional(e.ErrorReason), Version: e.Version,
	}
	for _, d := range e.Diagnoses {
		out.Diagnoses = append(out.Diagnoses, diagnosisJSON(d))
	}
	for _, p := range e.Prescriptions {
		out.Prescriptions = append(out.Prescriptions, prescriptionJSON(p))
	}
	if !e.SignedAt.IsZero() {
		t := e.SignedAt
		out.SignedAt = &t
	}
	return out
}

func toAddendumJSON(a record.Addendum) addendumJSON {
	return addendumJSON{ID: a.ID, EncounterID: a.EncounterID, AuthorID: a.AuthorID, Text: a.Text, CreatedAt: a.CreatedAt}
}

func toViewJSON(v service.EncounterView) encounterJSON {
	out := toEncounterJSON(v.Encounter)
	out.Addenda = []addendumJSON{}
	for _, a := range v.Addenda {
		out.Addenda = append(out.Addenda, toAddendumJSON(a))
	}
	return out
}

type relatesToJSON struct {
	Code   string `json:"code"`
	Target string `json:"target"`
}

// documentJSON follows FHIR DocumentReference in spirit: status, type,
// category, subject, author, date, description (title), content
// (contentType, size, hash), context (encounter), relatesTo.
type documentJSON struct {
	ID          string          `json:"id"`
	PatientID   string          `json:"patientId"`
	Status      string          `json:"status"`
	Type        string          `json:"type"`
	Category    string          `json:"category"`
	Title       string          `json:"title"`
	ContentType string          `json:"contentType"`
	Size        int64           `json:"size"`
	SHA256      string          `json:"sha256"`
	AuthorID    string          `json:"authorId"`
	Date        time.Time       `json:"date"`
	EncounterID *string         `json:"encounterId"`
	RelatesTo   []relatesToJSON `json:"relatesTo"`
	ErrorReason *string         `json:"enteredInErrorReason,omitempty"`
	Version     int64           `json:"version"`
}

func toDocumentJSON(d record.Document) documentJSON {
	out := documentJSON{
		ID: d.ID, PatientID: d.PatientID, Status: string(d.Status), Type: d.Type, Category: d.Category, Title: d.Title,
		ContentType: d.ContentType, Size: d.Size, SHA256: d.SHA256, AuthorID: d.AuthorID, Date: d.Date,
		EncounterID: optional(d.EncounterID), RelatesTo: []relatesToJSON{}, ErrorReason: optional(d.ErrorReason), Version: d.Version,
	}
	if d.Replaces != "" {
		out.RelatesTo = append(out.RelatesTo, relatesToJSON{Code: "replaces", Target: d.Replaces})
	}
	return out
}

type auditJSON struct {
	ID         string    `json:"id"`
	OccurredAt time.Time `json:"occurredAt"`
	UserID     string    `json:"userId"`
	Role       string    `json:"role"`
	Action     string    `json:"action"`
	Resource   string    `json:"resource"`
	PatientID  string    `json:"patientId"`
	ResourceID *string   `json:"resourceId"`
	Outcome    string    `json:"outcome"`
	BreakGlass bool      `json:"breakGlass"`
	Reason     *string   `json:"reason"`
	RequestID  string    `json:"requestId"`
}

func toAuditJSON(e record.AuditEvent) auditJSON {
	return auditJSON{ID: e.ID, OccurredAt: e.OccurredAt, UserID: e.UserID, Role: e.Role, Action: string(e.Action),
		Resource: e.Resource, PatientID: e.PatientID, ResourceID: optional(e.ResourceID), Outcome: string(e.Outcome),
		BreakGlass: e.Reason != "", Reason: optional(e.Reason), RequestID: e.RequestID}
}

type reasonBody struct {
	Reason string `json:"reason"`
}

type addendumBody struct {
	Text string `json:"text"`
}

type treatingJSON struct {
	PatientID string `json:"patientId"`
	Treating  bool   `json:"treating"`
}

type linkJSON struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
}
