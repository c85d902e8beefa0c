package profile

import (
	// Zones load the same with or without a system time zone database.
	_ "time/tzdata"

	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
)

func valid() Doctor {
	return Doctor{
		FirstName: "  Ada ", LastName: "Lovelace", Email: "ada@example.org", Phone: "+14155550123",
		LicenseNumber: "MD-12345", Languages: []string{"EN", "pt_br", "en"},
		SpecializationIDs: []string{"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B"},
		TimeZone:          "Europe/Berlin",
	}
}

func fields(t *testing.T, err error) []string {
	t.Helper()
	var fe domainerr.FieldErrors
	require.True(t, errors.As(err, &fe), "%v", err)
	var out []string
	for _, f := range fe {
		out = append(out, f.Field)
	}
	return out
}

func TestNormalizeValid(t *testing.T) {
	d := valid()
	require.NoError(t, d.Normalize())
	assert.Equal(t, "Ada", d.FirstName)
	assert.Equal(t, []string{"en", "pt-BR"}, d.Languages)
	assert.Equal(t, []string{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}, d.SpecializationIDs)
	assert.Equal(t, DefaultAppointmentMins, d.AppointmentMinutes)
}

func TestNormalizeRefuses(t *testing.T) {
	cases := map[string]func(d *Doctor){
		"firstName":            func(d *Doctor) { d.FirstName = " " },
		"lastName":             func(d *Doctor) { d.LastName = string(make([]byte, 101)) },
		"email":                func(d *Doctor) { d.Email = "not-an-email" },
		"phone":                func(d *Doctor) { d.Phone = "555-1234" },
		"licenseNumber":        func(d *Doctor) { d.LicenseNumber = "" },
		"timeZone":             func(d *Doctor) { d.TimeZone = "Mars/Olympus_Mons" },
		"appointmentMinutes":   func(d *Doctor) { d.AppointmentMinutes = 1000 },
		"languages[1]":         func(d *Doctor) { d.Languages = []string{"en", "english!"} },
		"specializationIds[0]": func(d *Doctor) { d.SpecializationIDs = []string{"nope"} },
		"bio":                  func(d *Doctor) { d.Bio = string(make([]rune, 4001)) },
		"firstName with NUL":   func(d *Doctor) { d.FirstName = "A\x00da" },
		"lastName with ESC":    func(d *Doctor) { d.LastName = "Love\x1blace" },
		"email with NUL":       func(d *Doctor) { d.Email = "ada\x00@example.org" },
	}
	for field, mutate := range cases {
		t.Run(field, func(t *testing.T) {
			d := valid()
			mutate(&d)
			assert.Equal(t, []string{strings.Fields(field)[0]}, fields(t, d.Normalize()))
		})
	}
}

func TestErrorsHaveKinds(t *testing.T) {
	assert.ErrorIs(t, ErrDoctorNotFound, domainerr.NotFound)
	assert.ErrorIs(t, ErrLicenseTaken, domainerr.Conflict)
	assert.ErrorIs(t, ErrStale, domainerr.Stale)
	assert.ErrorIs(t, ErrPreconditionRequired, domainerr.PreconditionRequired)
	assert.ErrorIs(t, ErrNotYours, domainerr.Forbidden)
	assert.Equal(t, "no doctor with this id", ErrDoctorNotFound.Error(), "messages are what clients read")
}

func TestSpecializationNormalize(t *testing.T) {
	s := Specialization{Name: "  Pediatric   Cardiology "}
	require.NoError(t, s.Normalize())
	assert.Equal(t, "Pediatric Cardiology", s.Name)
	assert.Equal(t, NameKey("pediatric cardiology"), NameKey(s.Name))
	s = Specialization{Name: ""}
	assert.Equal(t, []string{"name"}, fields(t, s.Normalize()))
	s = Specialization{Name: "Cardio\x00logy"}
	assert.Equal(t, []string{"name"}, fields(t, s.Normalize()))
}

func TestNamePrefixes(t *testing.T) {
	assert.Equal(t, []string{"ada", "lov"}, NamePrefixes("  Ada  Lov "))
	assert.Empty(t, NamePrefixes("   "))
	assert.Len(t, NamePrefixes("a b c d e"), 5, "every word is kept; the caller bounds them")
}

func TestNameTokens(t *testing.T) {
	assert.Equal(t, []string{"mary", "ann", "smith-jones", "smith", "jones"}, NameTokens("Mary Ann", "Smith-Jones"))
	assert.Equal(t, []string{"ada"}, NameTokens("Ada", "ADA"))
}

// Each bound is inclusive: a profile at every bound is accepted, and one
// past a bound is refused by naming that field alone.
func TestNormalizeHoldsTheBounds(t *testing.T) {
	langs := []string{"en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "fi", "pl",
		"cs", "sk", "hu", "ro", "bg", "el", "tr", "ru", "uk", "ja"}
	require.Len(t, langs, MaxLanguages+1)
	specs := make([]string, MaxSpecializations+1)
	for i := range specs {
		specs[i] = ids.New()
	}
	atBounds := func() Doctor {
		d := valid()
		d.AppointmentMinutes = MaxAppointmentMinutes
		d.Languages = langs[:MaxLanguages]
		d.SpecializationIDs = specs[:MaxSpecializations]
		d.Bio = strings.Repeat("é", MaxBioLength)
		return d
	}
	d := atBounds()
	require.NoError(t, d.Normalize())
	assert.Len(t, d.Languages, MaxLanguages)
	assert.Len(t, d.SpecializationIDs, MaxSpecializations)
	d = valid()
	d.AppointmentMinutes = MinAppointmentMinutes
	require.NoError(t, d.Normalize())

	cases := map[string]func(d *Doctor){
		"appointmentMinutes above":   func(d *Doctor) { d.AppointmentMinutes = MaxAppointmentMinutes + 1 },
		"appointmentMinutes below":   func(d *Doctor) { d.AppointmentMinutes = MinAppointmentMinutes - 1 },
		"languages one too many":     func(d *Doctor) { d.Languages = langs },
		"specializationIds too many": func(d *Doctor) { d.SpecializationIDs = specs },
		"bio one character too long": func(d *Doctor) { d.Bio = strings.Repeat("é", MaxBioLength+1) },
	}
	for field, mutate := range cases {
		t.Run(field, func(t *testing.T) {
			d := atBounds()
			mutate(&d)
			assert.Equal(t, []string{strings.Fields(field)[0]}, fields(t, d.Normalize()))
		})
	}
}
