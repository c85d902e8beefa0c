package appointment

import "time"

// Action is what an audited request did.
type Action string

// Audited actions.
const (
	ActionRead       Action = "read"
	ActionList       Action = "list"
	ActionBook       Action = "book"
	ActionReschedule Action = "reschedule"
	ActionCancel     Action = "cancel"
	ActionStatus     Action = "change-status"
	ActionJoin       Action = "join"
	ActionLeave      Action = "leave"
	// ActionOffer: the service itself gave a freed slot to the first
	// patient waiting, whose entry left the waitlist.
	ActionOffer Action = "offer"
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
	ResourceAppointment = "appointment"
	ResourceWaitlist    = "waitlist"
	ResourceAudit       = "audit"
)

// AuditEvent records one access to a patient's appointments or waitlist
// entries: who, what, which patient, when, whether it was allowed, and the
// request. It never holds the data (no reason, note or time).
type AuditEvent struct {
	ID         string
	OccurredAt time.Time
	UserID     string // "" for the service's own offer
	Role       string
	Action     Action
	Resource   string
	PatientID  string // "" for a list, which touches no single patient
	ResourceID string // the appointment or waitlist entry, when there is one
	Outcome    Outcome
	// RequestID is the request's ID; for a change a consumed event made,
	// that event's id.
	RequestID string
}

// AuditQuery lists a patient's audit events, newest first.
type AuditQuery struct {
	PatientID string
	Limit     int
	Cursor    string
}
