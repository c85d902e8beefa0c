package patient

import "time"

// Action is what an audited request did.
type Action string

// Audited actions.
const (
	ActionRead   Action = "read"
	ActionSearch Action = "search"
	ActionCreate Action = "create"
	ActionUpdate Action = "update"
	ActionDelete Action = "delete"
)

// Outcome tells whether access was granted.
type Outcome string

// Outcomes.
const (
	OutcomeAllowed Outcome = "allowed"
	OutcomeDenied  Outcome = "denied"
)

// Resources named in audit events.
const (
	ResourcePatient   = "patient"
	ResourceHistory   = "history"
	ResourceRevisions = "history-revisions"
	ResourceAudit     = "audit"
)

// AuditEvent records one access to patient data: who, what, which patient,
// when, whether it was allowed, and the request. It never holds the data.
type AuditEvent struct {
	ID         string
	OccurredAt time.Time
	UserID     string
	Role       string
	Action     Action
	Resource   string
	PatientID  string // "" for searches, which touch no single patient
	ResourceID string // the history entry, when the resource is one
	Outcome    Outcome
	RequestID  string
}
