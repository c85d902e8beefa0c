package patient

import "github.com/medisync/medisync/shared/civil"

// SearchQuery finds patients. Query is a name prefix matched against the
// start of the last or first name; the other filters match exactly.
type SearchQuery struct {
	Query       string
	DateOfBirth civil.Date
	Email       string
	Limit       int
	Cursor      string
}

// HistoryQuery lists a patient's history entries. With no Status, entries
// entered in error are left out.
type HistoryQuery struct {
	PatientID string
	Types     []EntryType
	Statuses  []EntryStatus
	Limit     int
	Cursor    string
}

// AuditQuery lists a patient's audit events, newest first.
type AuditQuery struct {
	PatientID string
	Limit     int
	Cursor    string
}
