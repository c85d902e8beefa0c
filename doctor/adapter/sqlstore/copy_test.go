package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/adapter/sqlstore"
	"github.com/medisync/medisync/doctor/adapter/taken"
	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/dbcopy"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// doctorSnapshot is what the service answers about the doctors.
type doctorSnapshot struct {
	Specializations page.Page[profile.Specialization]
	Doctors         []profile.Doctor
	Availability    []service.AvailabilityView
	Slots           []service.SlotList
	Searches        map[string][]string
}

func readDoctors(t *testing.T, svc service.Service, actor authn.Principal, doctorIDs []string, specID string) doctorSnapshot {
	t.Helper()
	ctx := context.Background()
	snap := doctorSnapshot{Searches: map[string][]string{}}
	var err error
	snap.Specializations, err = svc.ListSpecializations(ctx, actor, 100, "")
	require.NoError(t, err)
	for _, id := range doctorIDs {
		d, err := svc.GetDoctor(ctx, actor, id)
		require.NoError(t, err)
		snap.Doctors = append(snap.Doctors, d)
		a, err := svc.GetAvailability(ctx, actor, id)
		require.NoError(t, err)
		snap.Availability = append(snap.Availability, a)
		s, err := svc.Slots(ctx, actor, id, "2026-02-09", "2026-02-15")
		require.NoError(t, err)
		snap.Slots = append(snap.Slots, s)
	}
	for name, in := range map[string]service.SearchInput{
		"name": {Q: "mü"}, "specialization": {Specialization: specID}, "language": {Language: "fr"},
		"available": {AvailableOn: "2026-02-10"}, "day off": {AvailableOn: "2026-02-11"},
	} {
		var found []string
		for {
			in.Limit = 1
			pg, err := svc.SearchDoctors(ctx, actor, in)
			require.NoError(t, err, name)
			for _, d := range pg.Items {
				found = append(found, d.ID)
			}
			if in.Cursor = pg.NextCursor; in.Cursor == "" {
				break
			}
		}
		snap.Searches[name] = found
	}
	return snap
}

// TestCopyToPostgres fills a MariaDB database through the service
// (specializations, doctors, weekly hours and date exceptions, each edited
// so versions move on), copies it with dbcopy into an empty PostgreSQL
// database migrated from the embedded migrations, and serves the copy:
// every answer is the same, searches included, and the copy takes new
// writes at the next versions.
func TestCopyToPostgres(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.New(time.Date(2026, 2, 1, 8, 30, 0, 123456789, time.UTC))
	admin := authn.Principal{UserID: ids.New(), Roles: []string{authn.RoleAdmin}}

	src := sqltest.MySQL(t, sqlstore.Migrations())
	svc := service.New(sqlstore.New(src), taken.None{}, clk, ids.New)
	var specIDs []string
	for _, name := range []string{"Cardiology", "Dermatology", "Pädiatrie", "Radiology"} {
		sp, err := svc.CreateSpecialization(ctx, admin, service.SpecializationInput{Name: name, Description: name + " — outpatient"})
		require.NoError(t, err)
		specIDs = append(specIDs, sp.ID)
	}
	clk.Advance(time.Hour)
	_, err := svc.UpdateSpecialization(ctx, admin, specIDs[0], 1, service.SpecializationInput{Name: "Cardiology", Description: "Heart and vessels"})
	require.NoError(t, err)
	require.NoError(t, svc.DeleteSpecialization(ctx, admin, specIDs[3]))

	var doctorIDs []string
	for i, d := range []struct {
		first, last  string
		specs, langs []string
		tz           string
	}{
		{"Jürgen", "Müller", specIDs[:2], []string{"de", "en"}, "Europe/Berlin"},
		{"Amélie", "Moreau", specIDs[1:3], []string{"fr"}, "Europe/Paris"},
		{"Grace", "Hopper", specIDs[:1], []string{"en", "pt-BR"}, "America/New_York"},
	} {
		clk.Advance(time.Minute)
		lic := "LIC-" + string(rune('A'+i))
		in := service.DoctorInput{FirstName: d.first, LastName: d.last, Email: d.last + "@example.org", Phone: "+4930123456",
			LicenseNumber: &lic, SpecializationIDs: d.specs, Bio: "Über 20 Jahre Erfahrung.\nSecond line.", Languages: d.langs,
			TimeZone: d.tz, AppointmentMinutes: 30}
		if i == 0 {
			user := ids.New()
			in.UserID = &user
		}
		doc, err := svc.CreateDoctor(ctx, admin, in)
		require.NoError(t, err)
		doctorIDs = append(doctorIDs, doc.ID)
	}
	clk.Advance(time.Hour)
	first, err := svc.GetDoctor(ctx, admin, doctorIDs[0])
	require.NoError(t, err)
	lic := first.LicenseNumber
	first, err = svc.UpdateDoctor(ctx, admin, first.ID, 1, service.DoctorInput{FirstName: first.FirstName, LastName: first.LastName,
		Email: first.Email, Phone: "+4930999999", LicenseNumber: &lic, SpecializationIDs: specIDs[:3], Bio: first.Bio,
		Languages: []string{"de", "en", "fr"}, TimeZone: first.TimeZone, AppointmentMinutes: 20})
	require.NoError(t, err)
	require.EqualValues(t, 2, first.Version)

	off, on := false, true
	for i, id := range doctorIDs[:2] {
		slot, buffer := 30, 5
		in := schedule.Input{SlotMinutes: &slot, BufferMinutes: &buffer, Weekly: []schedule.WeeklyInput{
			{Day: "MONDAY", Start: "08:00", End: "12:00"}, {Day: "MONDAY", Start: "13:00", End: "17:30"},
			{Day: "TUESDAY", Start: "09:00", End: "13:00"}, {Day: "WEDNESDAY", Start: "09:00", End: "13:00"},
		}}
		_, err := svc.ReplaceAvailability(ctx, admin, id, 1, service.AvailabilityInput{Input: in})
		require.NoError(t, err)
		clk.Advance(time.Hour)
		in.Exceptions = []schedule.ExceptionInput{
			{Date: "2026-02-11", Available: &off},
			{Date: "2026-02-14", Available: &on, Intervals: []schedule.IntervalInput{{Start: "10:00", End: "12:00"}}},
		}
		if i == 1 {
			in.Exceptions = in.Exceptions[1:]
		}
		_, err = svc.ReplaceAvailability(ctx, admin, id, 2, service.AvailabilityInput{Input: in})
		require.NoError(t, err)
	}

	want := readDoctors(t, svc, admin, doctorIDs, specIDs[1])
	require.Len(t, want.Specializations.Items, 3)
	require.Len(t, want.Availability[0].Availability.Exceptions, 2)
	require.EqualValues(t, 3, want.Availability[0].Availability.Version)
	require.NotEmpty(t, want.Slots[0].Slots)
	require.Equal(t, []string{doctorIDs[0]}, want.Searches["name"])
	require.Len(t, want.Searches["available"], 2)
	require.Len(t, want.Searches["day off"], 1, "the exception takes the day off")

	// The copy, into an empty database the copy migrates.
	dst, err := sqldb.Open(ctx, sqltest.PostgresDSN(t, nil))
	require.NoError(t, err)
	t.Cleanup(func() { _ = dst.Close() })
	rep, err := dbcopy.Copy(ctx, src, dst, dbcopy.Options{Migrations: sqlstore.Migrations(), BatchRows: 2})
	require.NoError(t, err)
	require.True(t, rep.OK(), rep.Differences())
	rows := map[string]int64{}
	for _, tr := range rep.Tables {
		rows[tr.Table] = tr.TargetRows
	}
	assert.EqualValues(t, 3, rows["doctors"])
	assert.EqualValues(t, 3, rows["specializations"])
	assert.EqualValues(t, 3, rows["availability_exceptions"], "tables: %v", rows)
	again, err := dbcopy.Verify(ctx, src, dst)
	require.NoError(t, err)
	require.True(t, again.OK())

	// The copy, served.
	pg := service.New(sqlstore.New(dst), taken.None{}, clk, ids.New)
	assert.Equal(t, want, readDoctors(t, pg, admin, doctorIDs, specIDs[1]))
	in := service.DoctorInput{FirstName: first.FirstName, LastName: first.LastName, Email: first.Email, Phone: first.Phone,
		LicenseNumber: &lic, SpecializationIDs: first.SpecializationIDs, Bio: "Updated on PostgreSQL", Languages: first.Languages,
		TimeZone: first.TimeZone, AppointmentMinutes: first.AppointmentMinutes}
	_, err = pg.UpdateDoctor(ctx, admin, first.ID, 1, in)
	require.ErrorIs(t, err, profile.ErrStale, "the copy keeps the versions")
	got, err := pg.UpdateDoctor(ctx, admin, first.ID, 2, in)
	require.NoError(t, err)
	assert.EqualValues(t, 3, got.Version)
	_, err = pg.ReplaceAvailability(ctx, admin, first.ID, 3, service.AvailabilityInput{})
	require.NoError(t, err)
	_, err = pg.CreateSpecialization(ctx, admin, service.SpecializationInput{Name: "Pädiatrie"})
	require.Error(t, err, "names stay unique on the copy")
}
