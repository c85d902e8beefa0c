package repotest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/ids"
)

func testSpecializations(t *testing.T, s service.Repository) {
	ctx := context.Background()
	card := mkSpec(t, s, "Cardiology")
	err := s.CreateSpecialization(ctx, profile.Specialization{ID: ids.New(), Name: "CARDIOLOGY", Version: 1, CreatedAt: t0, UpdatedAt: t0})
	assert.ErrorIs(t, err, profile.ErrSpecializationNameUsed, "names are unique regardless of case")
	mkSpec(t, s, "Cardiología") // accents make another name
	for _, n := range []string{"Neurology", "dermatology", "Allergy", "Oncology"} {
		mkSpec(t, s, n)
	}

	got, err := s.GetSpecialization(ctx, card.ID)
	require.NoError(t, err)
	assert.Equal(t, "Cardiology", got.Name)
	assert.Equal(t, "about Cardiology", got.Description)
	assert.Equal(t, int64(1), got.Version)
	_, err = s.GetSpecialization(ctx, ids.New())
	assert.ErrorIs(t, err, profile.ErrSpecializationNotFound)

	page1, err := s.ListSpecializations(ctx, "", 3)
	require.NoError(t, err)
	require.Len(t, page1, 3)
	assert.Equal(t, []string{"Allergy", "Cardiology", "Cardiología"}, []string{page1[0].Name, page1[1].Name, page1[2].Name})
	page2, err := s.ListSpecializations(ctx, profile.NameKey(page1[2].Name), 10)
	require.NoError(t, err)
	assert.Equal(t, []string{"dermatology", "Neurology", "Oncology"}, []string{page2[0].Name, page2[1].Name, page2[2].Name})

	t.Run("rename", func(t *testing.T) {
		upd, err := s.UpdateSpecialization(ctx, profile.Specialization{ID: card.ID, Name: "Cardiac Surgery", UpdatedAt: t0}, 1)
		require.NoError(t, err)
		assert.Equal(t, "Cardiac Surgery", upd.Name)
		assert.Equal(t, int64(2), upd.Version)
		_, err = s.UpdateSpecialization(ctx, profile.Specialization{ID: card.ID, Name: "X", UpdatedAt: t0}, 1)
		assert.ErrorIs(t, err, profile.ErrStale)
		_, err = s.UpdateSpecialization(ctx, profile.Specialization{ID: card.ID, Name: "neurology", UpdatedAt: t0}, 0)
		assert.ErrorIs(t, err, profile.ErrSpecializationNameUsed)
		_, err = s.UpdateSpecialization(ctx, profile.Specialization{ID: ids.New(), Name: "Y", UpdatedAt: t0}, 0)
		assert.ErrorIs(t, err, profile.ErrSpecializationNotFound)
		// Changing only the case of one's own name is fine.
		upd, err = s.UpdateSpecialization(ctx, profile.Specialization{ID: card.ID, Name: "CARDIAC SURGERY", UpdatedAt: t0}, 0)
		require.NoError(t, err)
		assert.Equal(t, "CARDIAC SURGERY", upd.Name)
	})
	t.Run("delete", func(t *testing.T) {
		used := mkSpec(t, s, "Used")
		mkDoctor(t, s, "A", "B", func(d *profile.Doctor) { d.SpecializationIDs = []string{used.ID} })
		assert.ErrorIs(t, s.DeleteSpecialization(ctx, used.ID), profile.ErrSpecializationInUse)
		_, err := s.GetSpecialization(ctx, used.ID)
		assert.NoError(t, err, "still there")
		assert.NoError(t, s.DeleteSpecialization(ctx, card.ID))
		assert.ErrorIs(t, s.DeleteSpecialization(ctx, card.ID), profile.ErrSpecializationNotFound)
	})
	t.Run("missing", func(t *testing.T) {
		ghost := ids.New()
		page, err := s.ListSpecializations(ctx, "", 100)
		require.NoError(t, err)
		missing, err := s.MissingSpecializations(ctx, []string{page[0].ID, ghost})
		require.NoError(t, err)
		assert.Equal(t, []string{ghost}, missing)
		missing, err = s.MissingSpecializations(ctx, nil)
		require.NoError(t, err)
		assert.Empty(t, missing)
	})
}
