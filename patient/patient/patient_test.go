package patient_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

func TestErrorsAreKinded(t *testing.T) {
	for err, kind := range map[error]domainerr.Kind{
		patient.ErrNotFound: domainerr.NotFound, patient.ErrForbidden: domainerr.Forbidden,
		patient.ErrProfileExists: domainerr.Conflict, patient.ErrEnteredInError: domainerr.Conflict,
		patient.ErrStaleVersion: domainerr.Stale, patient.ErrPreconditionRequired: domainerr.PreconditionRequired,
	} {
		assert.ErrorIs(t, err, kind, err.Error())
		assert.True(t, domainerr.Expected(err), err.Error())
	}
}

func validProfile() patient.Profile {
	return patient.Profile{FirstName: "Ada", LastName: "Lovelace", DateOfBirth: civil.MustParse("1985-12-10"), Sex: patient.SexFemale}
}

func TestProfileValidation(t *testing.T) {
	today := civil.MustParse("2026-06-15")
	cases := map[string]struct {
		edit   func(p *patient.Profile)
		fields []string
	}{
		"valid":            {func(p *patient.Profile) {}, nil},
		"born today":       {func(p *patient.Profile) { p.DateOfBirth = today }, nil},
		"born tomorrow":    {func(p *patient.Profile) { p.DateOfBirth = civil.MustParse("2026-06-16") }, []string{"dateOfBirth"}},
		"no date of birth": {func(p *patient.Profile) { p.DateOfBirth = civil.Date{} }, []string{"dateOfBirth"}},
		"blank names":      {func(p *patient.Profile) { p.FirstName, p.LastName = "  ", "" }, []string{"firstName", "lastName"}},
		"name too long":    {func(p *patient.Profile) { p.LastName = strings.Repeat("é", 101) }, []string{"lastName"}},
		"name at limit":    {func(p *patient.Profile) { p.LastName = strings.Repeat("é", 100) }, nil},
		"bad sex":          {func(p *patient.Profile) { p.Sex = "f" }, []string{"sex"}},
		"sex defaults":     {func(p *patient.Profile) { p.Sex = "" }, nil},
		"email":            {func(p *patient.Profile) { p.Email = "ada@localhost" }, []string{"email"}},
		"good email":       {func(p *patient.Profile) { p.Email = "ada.king+x@example.co.uk" }, nil},
		"phone":            {func(p *patient.Profile) { p.Phone = "+0123456789" }, []string{"phone"}},
		"good phone":       {func(p *patient.Profile) { p.Phone = "+14155550123" }, nil},
		"address parts":    {func(p *patient.Profile) { p.Address = patient.Address{Line2: "x"} }, []string{"address.line1", "address.city", "address.country"}},
		"contact":          {func(p *patient.Profile) { p.EmergencyContact = patient.EmergencyContact{Relationship: "x"} }, []string{"emergencyContact.name", "emergencyContact.phone"}},
		"language":         {func(p *patient.Profile) { p.PreferredLanguage = "pt-BR" }, nil},
		"bad language":     {func(p *patient.Profile) { p.PreferredLanguage = "Portuguese" }, []string{"preferredLanguage"}},
		"unknown language": {func(p *patient.Profile) { p.PreferredLanguage = "xx" }, []string{"preferredLanguage"}},
		"blood type":       {func(p *patient.Profile) { p.BloodType = "AB" }, []string{"bloodType"}},
	}
	for name, c := range cases {
		p := validProfile()
		c.edit(&p)
		p.Normalize()
		var got []string
		for _, fe := range p.Validate(today) {
			got = append(got, fe.Field)
		}
		assert.ElementsMatch(t, c.fields, got, name)
	}
}

func TestClinicalValidation(t *testing.T) {
	today := civil.MustParse("2026-06-15")
	base := func() patient.Clinical {
		return patient.Clinical{Type: patient.TypeAllergy, Description: "Peanuts", Severity: patient.SeverityMild,
			OnsetDate: civil.MustParse("2020-01-01")}
	}
	cases := map[string]struct {
		edit   func(c *patient.Clinical)
		fields []string
	}{
		"valid, status defaults": {func(c *patient.Clinical) {}, nil},
		"unknown type":           {func(c *patient.Clinical) { c.Type = "X" }, []string{"type"}},
		"severity on a note":     {func(c *patient.Clinical) { c.Type = patient.TypeNote }, []string{"severity"}},
		"entered-in-error":       {func(c *patient.Clinical) { c.Status = patient.StatusEnteredInError }, []string{"status"}},
		"end before onset":       {func(c *patient.Clinical) { c.EndDate = civil.MustParse("2019-12-31") }, []string{"endDate"}},
		"end in the future":      {func(c *patient.Clinical) { c.EndDate = civil.MustParse("2027-01-01") }, []string{"endDate"}},
		"code needs a system":    {func(c *patient.Clinical) { c.Code = "123" }, []string{"codeSystem"}},
		"notes may be multiline": {func(c *patient.Clinical) { c.Notes = "a\nb\tc" }, nil},
		"notes too long":         {func(c *patient.Clinical) { c.Notes = strings.Repeat("x", 4001) }, []string{"notes"}},
	}
	for name, tc := range cases {
		c := base()
		tc.edit(&c)
		c.Normalize()
		var got []string
		for _, fe := range c.Validate(today) {
			got = append(got, fe.Field)
		}
		assert.ElementsMatch(t, tc.fields, got, name)
	}
}

// A preferred language is written canonically, as doctors' languages are,
// so that EN and en are one language to everything that reads it.
func TestPreferredLanguageIsWrittenCanonically(t *testing.T) {
	for in, want := range map[string]string{"EN": "en", " pt_br ": "pt-BR", "zh-hant": "zh-Hant", "": ""} {
		p := validProfile()
		p.PreferredLanguage = in
		p.Normalize()
		assert.Equal(t, want, p.PreferredLanguage, in)
		assert.Empty(t, p.Validate(civil.MustParse("2026-06-15")), in)
	}
}
