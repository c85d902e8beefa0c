package civil_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/civil"
)

func TestParse(t *testing.T) {
	d, err := civil.Parse("2028-02-29")
	require.NoError(t, err)
	assert.Equal(t, "2028-02-29", d.String())
	assert.Equal(t, time.Tuesday, d.Weekday())
	for _, bad := range []string{"2027-02-29", "2027-2-01", "27-02-01", "2027/02/01", "", "2027-02-01T00:00"} {
		_, err := civil.Parse(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "", civil.Date{}.String())
	assert.True(t, civil.Date{}.IsZero())
}

func TestArithmetic(t *testing.T) {
	a := civil.MustParse("2027-12-30")
	b := a.AddDays(3)
	assert.Equal(t, "2028-01-02", b.String())
	assert.Equal(t, 3, a.DaysUntil(b))
	assert.True(t, a.Before(b))
	assert.True(t, b.After(a))
	assert.Equal(t, 0, a.Compare(civil.New(2027, time.December, 30)))
	ny, _ := time.LoadLocation("America/New_York")
	assert.Equal(t, a, civil.Of(time.Date(2027, 12, 31, 3, 0, 0, 0, time.UTC).In(ny)))
}
