package seed_test

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/seed"
	"github.com/medisync/medisync/shared/civil"
)

func TestPatientsAreDeterministicAndValid(t *testing.T) {
	a, b := seed.Patients(500, 7), seed.Patients(500, 7)
	assert.Equal(t, a, b, "the same seed gives the same patients")
	assert.NotEqual(t, a[0].ID, seed.Patients(1, 8)[0].ID)
	ids := map[string]bool{}
	for _, p := range a {
		u, err := uuid.Parse(p.ID)
		require.NoError(t, err)
		assert.Equal(t, uuid.Version(7), u.Version())
		assert.False(t, ids[p.ID])
		ids[p.ID] = true
		prof := p.Profile
		prof.Normalize()
		assert.Empty(t, prof.Validate(civil.MustParse("2026-01-01")), "%+v", p.Profile)
	}
}
