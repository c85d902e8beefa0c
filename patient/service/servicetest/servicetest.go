// Package servicetest holds the contract suites of the service's repository
// ports, so that every adapter (SQL today, any other tomorrow) proves the
// same behaviour with the same tests.
package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
)

// Repositories are the repository ports together, as an adapter serves
// them over one store: writes carry their audit event in the same
// transaction, and entries need their patient.
type Repositories interface {
	service.PatientRepository
	service.HistoryRepository
	service.AuditRepository
}

// t0 has microseconds, the finest precision every store keeps.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 123456000, time.UTC)

func newPatient(first, last, userID string) patient.Patient {
	return patient.Patient{
		ID: ids.New(), UserID: userID,
		Profile: patient.Profile{
			FirstName: first, LastName: last, DateOfBirth: civil.MustParse("1980-05-17"), Sex: patient.SexFemale,
			Email: first + "." + last + "@example.org", Phone: "+4915112345678",
			Address:           patient.Address{Line1: "Hauptstraße 1", City: "Berlin", PostalCode: "10115", Country: "DE"},
			EmergencyContact:  patient.EmergencyContact{Name: "Max", Relationship: "spouse", Phone: "+4915187654321"},
			PreferredLanguage: "de", BloodType: "AB-",
		},
		Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0,
	}
}

func event(patientID string, action patient.Action) patient.AuditEvent {
	return patient.AuditEvent{ID: ids.New(), OccurredAt: t0, UserID: "u1", Role: "ADMIN", Action: action,
		Resource: patient.ResourcePatient, PatientID: patientID, Outcome: patient.OutcomeAllowed, RequestID: "req-1"}
}

func entry(patientID string, typ patient.EntryType, status patient.EntryStatus) patient.HistoryEntry {
	return patient.HistoryEntry{
		ID: ids.New(), PatientID: patientID,
		Clinical: patient.Clinical{Type: typ, Description: "Peanut allergy", Code: "91935009", CodeSystem: "http://snomed.info/sct",
			Status: status, OnsetDate: civil.MustParse("2001-02-03"), Severity: patient.SeveritySevere, Notes: "line 1\nline 2"},
		RecordedBy: "doctor-1", RecordedAt: t0, Version: 1,
	}
}

func auditCount(t *testing.T, r service.AuditRepository, patientID string) int {
	t.Helper()
	got, err := r.ListAudit(context.Background(), patient.AuditQuery{PatientID: patientID, Limit: 100})
	require.NoError(t, err)
	return len(got.Items)
}

// AssertCursorRefused checks that err is the field error of a cursor the
// store did not issue.
func AssertCursorRefused(t *testing.T, err error, msgAndArgs ...any) {
	t.Helper()
	var fe domainerr.FieldErrors
	if assert.ErrorAs(t, err, &fe, msgAndArgs...) && assert.Len(t, fe, 1, msgAndArgs...) {
		assert.Equal(t, "cursor", fe[0].Field, msgAndArgs...)
	}
}
