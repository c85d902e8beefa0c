package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// MyPatient answers a caller as GetPatient would for the same record: the
// access rules, not the link alone, decide. A caller whose account is
// linked to a profile but who holds no role that may read it (no PATIENT:
// a role of another service, or none) gets the 404 of a caller with no
// profile, and the refusal is on the trail. Over HTTP such a token is
// refused before (401); the service holds the rule for every caller.
func TestMyPatientFollowsTheAccessRules(t *testing.T) {
	ctx := context.Background()
	st := sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations()))
	rec := auditlog.New[patient.AuditEvent](st, auditlog.Options{})
	t.Cleanup(func() { _ = rec.Close(ctx) })
	svc := service.New(service.Deps{Patients: st, History: st, Audit: st, Recorder: rec,
		Clock: clocktest.New(time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC))})
	admin := authn.Principal{UserID: "0190a5c4-7b1e-7cc3-8f00-0000000000aa", Roles: []string{authn.RoleAdmin}}
	account := "0190a5c4-7b1e-7cc3-8f00-0000000000bb"
	p, err := svc.CreatePatient(ctx, admin, service.NewPatient{UserID: &account,
		Profile: patient.Profile{FirstName: "Ada", LastName: "Lovelace", DateOfBirth: civil.MustParse("1985-12-10")}})
	require.NoError(t, err)

	for _, roles := range [][]string{{"NURSE"}, nil} {
		caller := authn.Principal{UserID: account, Roles: roles}
		_, byID := svc.GetPatient(ctx, caller, p.ID)
		_, me := svc.MyPatient(ctx, caller)
		assert.ErrorIs(t, byID, domainerr.NotFound, "roles %v", roles)
		assert.ErrorIs(t, me, domainerr.NotFound, "roles %v", roles)
	}
	trail, err := st.ListAudit(ctx, patient.AuditQuery{PatientID: p.ID, Limit: 100})
	require.NoError(t, err)
	require.Len(t, trail.Items, 5, "the creation and four refusals")
	for _, ev := range trail.Items[:4] {
		assert.Equal(t, patient.OutcomeDenied, ev.Outcome)
		assert.Equal(t, patient.ActionRead, ev.Action)
	}

	for _, roles := range [][]string{{authn.RolePatient}, {authn.RoleDoctor}, {authn.RoleAdmin}} {
		got, err := svc.MyPatient(ctx, authn.Principal{UserID: account, Roles: roles})
		require.NoError(t, err, "roles %v", roles)
		assert.Equal(t, p.ID, got.ID)
	}
}
