// Package repotest is the contract of the service.Repository port: every
// adapter runs it, so they all keep the promises the service relies on.
package repotest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/ids"
)

// Run checks the promises of service.Repository. newRepo must return a
// repository on an empty store: it is called once per part of the suite,
// since searches and lists count what is stored.
func Run(t *testing.T, newRepo func(t *testing.T) service.Repository) {
	for _, part := range []struct {
		name string
		fn   func(*testing.T, service.Repository)
	}{
		{"doctors", testDoctors},
		{"search", testSearchDoctors},
		{"name order ignores case", testNameOrderIgnoresCase},
		{"specializations", testSpecializations},
		{"availability", testAvailability},
		{"concurrent availability updates", testConcurrentAvailabilityUpdates},
		{"concurrent doctor updates", testConcurrentDoctorUpdates},
	} {
		t.Run(part.name, func(t *testing.T) { part.fn(t, newRepo(t)) })
	}
}

// t0 has microseconds, which every store must keep.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func mkSpec(t *testing.T, s service.Repository, name string) profile.Specialization {
	t.Helper()
	sp := profile.Specialization{ID: ids.New(), Name: name, Description: "about " + name, Version: 1, CreatedAt: t0, UpdatedAt: t0}
	require.NoError(t, s.CreateSpecialization(context.Background(), sp))
	return sp
}

func mkDoctor(t *testing.T, s service.Repository, first, last string, mutate ...func(*profile.Doctor)) profile.Doctor {
	t.Helper()
	d := profile.Doctor{
		ID: ids.New(), UserID: ids.New(), FirstName: first, LastName: last, Email: first + "@example.org",
		LicenseNumber: "LIC-" + ids.New()[24:], TimeZone: "Europe/Berlin", AppointmentMinutes: 30,
		Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0, Languages: []string{"en"},
	}
	for _, m := range mutate {
		m(&d)
	}
	a := schedule.Default(d.ID, d.AppointmentMinutes)
	a.Version, a.UpdatedAt = 1, t0
	require.NoError(t, s.CreateDoctor(context.Background(), d, a))
	return d
}
