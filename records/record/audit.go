package record

import "time"

// Action is what an audited request did.
type Action string

// Audited actions.
const (
	ActionRead     Action = "read"
	ActionList     Action = "list"
	ActionCreate   Action = "create"
	ActionUpdate   Action = "update"
	ActionSign     Action = "sign"
	ActionRetract  Action = "retract"
	ActionUpload   Action = "upload"
	ActionDownload Action = "download"
	ActionLink     Action = "link" // a presigned download URL was handed out
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
	ResourceEncounter = "encounter"
	ResourceRevisions = "encounter-revisions"
	ResourceAddendum  = "addendum"
	ResourceDocument  = "document"
	ResourceContent   = "document-content"
	ResourceAudit     = "audit"
)

// AuditEvent records one access to a patient's records: who, what, which
// patient, when, whether it was allowed, and, for an administrator's
// break-glass read of clinical content, the reason given. It never holds
// the clinical data.
type AuditEvent struct {
	ID         string
	OccurredAt time.Time
	UserID     string
	Role       string
	Action     Action
	Resource   string
	PatientID  string
	ResourceID string
	Outcome    Outcome
	RequestID  string
	Reason     string // break-glass reason; "" otherwise
}

// AuditQuery lists a patient's audit events, newest first.
type AuditQuery struct {
	PatientID string
	Limit     int
	Cursor    string
}
