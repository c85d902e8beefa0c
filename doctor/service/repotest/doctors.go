package repotest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/schedule"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
)

func testDoctors(t *testing.T, s service.Repository) {
	ctx := context.Background()
	card := mkSpec(t, s, "Cardiology")
	derm := mkSpec(t, s, "Dermatology")
	d := mkDoctor(t, s, "Ada", "Lovelace", func(d *profile.Doctor) {
		d.SpecializationIDs = []string{derm.ID, card.ID}
		d.Languages = []string{"fr", "en", "pt-BR"}
		d.Bio, d.Phone = "Physician.", "+14155550123"
	})

	got, err := s.GetDoctor(ctx, d.ID)
	require.NoError(t, err)
	assert.Equal(t, d.UserID, got.UserID)
	assert.Equal(t, "Ada", got.FirstName)
	assert.Equal(t, "+14155550123", got.Phone)
	assert.Equal(t, []string{card.ID, derm.ID}, got.SpecializationIDs, "in name order")
	assert.Equal(t, "Cardiology", got.Specializations[0].Name)
	assert.Equal(t, []string{"fr", "en", "pt-BR"}, got.Languages, "in the order given")
	assert.True(t, got.Active)
	assert.Equal(t, int64(1), got.Version)
	assert.True(t, got.CreatedAt.Equal(t0), "%s", got.CreatedAt)
	assert.Equal(t, time.UTC, got.CreatedAt.Location())

	byUser, err := s.GetDoctorByUser(ctx, d.UserID)
	require.NoError(t, err)
	assert.Equal(t, d.ID, byUser.ID)

	_, err = s.GetDoctor(ctx, ids.New())
	assert.ErrorIs(t, err, profile.ErrDoctorNotFound)
	_, err = s.GetDoctorByUser(ctx, ids.New())
	assert.ErrorIs(t, err, profile.ErrDoctorNotFound)
	_, err = s.GetDoctorByUser(ctx, "not-a-uuid")
	assert.ErrorIs(t, err, profile.ErrDoctorNotFound, "a user id that is no UUID has no profile")

	t.Run("license numbers are unique regardless of case", func(t *testing.T) {
		mkDoctor(t, s, "B", "B", func(x *profile.Doctor) { x.LicenseNumber = "abc-1" })
		err := s.CreateDoctor(ctx, profile.Doctor{ID: ids.New(), FirstName: "C", LastName: "C", Email: "c@x.org",
			LicenseNumber: "ABC-1", TimeZone: "UTC", AppointmentMinutes: 30, Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0},
			schedule.Availability{SlotMinutes: 30, Version: 1, UpdatedAt: t0})
		assert.ErrorIs(t, err, profile.ErrLicenseTaken)
	})
	t.Run("one profile per user", func(t *testing.T) {
		err := s.CreateDoctor(ctx, profile.Doctor{ID: ids.New(), UserID: d.UserID, FirstName: "C", LastName: "C", Email: "c@x.org",
			LicenseNumber: "OTHER-1", TimeZone: "UTC", AppointmentMinutes: 30, Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0},
			schedule.Availability{SlotMinutes: 30, Version: 1, UpdatedAt: t0})
		assert.ErrorIs(t, err, profile.ErrUserHasProfile)
		// Unlinked profiles do not collide with each other.
		mkDoctor(t, s, "U1", "Unlinked", func(x *profile.Doctor) { x.UserID = "" })
		u2 := mkDoctor(t, s, "U2", "Unlinked", func(x *profile.Doctor) { x.UserID = "" })
		got, err := s.GetDoctor(ctx, u2.ID)
		require.NoError(t, err)
		assert.Empty(t, got.UserID)
	})
	t.Run("unknown specialization", func(t *testing.T) {
		err := s.CreateDoctor(ctx, profile.Doctor{ID: ids.New(), FirstName: "C", LastName: "C", Email: "c@x.org",
			LicenseNumber: "SPEC-1", TimeZone: "UTC", AppointmentMinutes: 30, Active: true, Version: 1, CreatedAt: t0, UpdatedAt: t0,
			SpecializationIDs: []string{ids.New()}},
			schedule.Availability{SlotMinutes: 30, Version: 1, UpdatedAt: t0})
		var fe domainerr.FieldErrors
		assert.True(t, errors.As(err, &fe), "%v", err)
	})

	t.Run("update guarded by version", func(t *testing.T) {
		cur, err := s.GetDoctor(ctx, d.ID)
		require.NoError(t, err)
		cur.LastName = "Byron"
		cur.SpecializationIDs = []string{derm.ID}
		cur.Languages = []string{"de"}
		cur.UpdatedAt = t0.Add(time.Hour)
		upd, err := s.UpdateDoctor(ctx, cur, 1)
		require.NoError(t, err)
		assert.Equal(t, int64(2), upd.Version)
		assert.Equal(t, "Byron", upd.LastName)
		assert.Equal(t, []string{derm.ID}, upd.SpecializationIDs)
		assert.Equal(t, []string{"de"}, upd.Languages)
		assert.True(t, upd.UpdatedAt.Equal(t0.Add(time.Hour)))

		_, err = s.UpdateDoctor(ctx, cur, 1)
		assert.ErrorIs(t, err, profile.ErrStale)
		again, err := s.GetDoctor(ctx, d.ID)
		require.NoError(t, err)
		assert.Equal(t, int64(2), again.Version, "a stale write changes nothing")

		upd, err = s.UpdateDoctor(ctx, cur, 0)
		require.NoError(t, err, "0 accepts any version")
		assert.Equal(t, int64(3), upd.Version)

		missing := cur
		missing.ID = ids.New()
		_, err = s.UpdateDoctor(ctx, missing, 1)
		assert.ErrorIs(t, err, profile.ErrDoctorNotFound)
	})
	t.Run("update to a taken license", func(t *testing.T) {
		cur, err := s.GetDoctor(ctx, d.ID)
		require.NoError(t, err)
		cur.LicenseNumber = "ABC-1"
		_, err = s.UpdateDoctor(ctx, cur, cur.Version)
		assert.ErrorIs(t, err, profile.ErrLicenseTaken)
	})
}
