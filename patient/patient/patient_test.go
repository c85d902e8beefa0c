package patient_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/patient"
)

func TestParseDate(t *testing.T) {
	for _, ok := range []string{"2024-02-29", "1900-01-01", "2026-12-31"} {
		d, err := patient.ParseDate(ok)
		require.NoError(t, err, ok)
		assert.Equal(t, ok, d.String())
	}
	for _, bad := range []string{"", "2027-02-30", "2023-02-29", "2026-04-31", "2026-13-01", "2026-1-1", "26-01-01",
		"2026-01-01T00:00:00Z", "2026/01/01", " 2026-01-01"} {
		_, err := patient.ParseDate(bad)
		assert.Error(t, err, bad)
	}
	a, b := patient.MustDate("2026-01-31"), patient.MustDate("2026-02-01")
	assert.True(t, a.Before(b))
	assert.True(t, b.After(a))
	assert.False(t, a.Before(a))
	assert.True(t, patient.Date{}.IsZero())
	assert.Equal(t, "", patient.Date{}.String())
}

func validProfile() patient.Profile {
	return patient.Profile{FirstName: "Ada", LastName: "Lovelace", DateOfBirth: patient.MustDate("1985-12-10"), Sex: patient.SexFemale}
}

func TestProfileValidation(t *testing.T) {
	today := patient.MustDate("2026-06-15")
	cases := map[string]struct {
		edit   func(p *patient.Profile)
		fields []string
	}{
		"valid":            {func(p *patient.Profile) {}, nil},
		"born today":       {func(p *patient.Profile) { p.DateOfBirth = today }, nil},
		"born tomorrow":    {func(p *patient.Profile) { p.DateOfBirth = patient.MustDate("2026-06-16") }, []string{"dateOfBirth"}},
		"no date of birth": {func(p *patient.Profile) { p.DateOfBirth = patient.Date{} }, []string{"dateOfBirth"}},
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
	today := patient.MustDate("2026-06-15")
	base := func() patient.Clinical {
		return patient.Clinical{Type: patient.TypeAllergy, Description: "Peanuts", Severity: patient.SeverityMild,
			OnsetDate: patient.MustDate("2020-01-01")}
	}
	cases := map[string]struct {
		edit   func(c *patient.Clinical)
		fields []string
	}{
		"valid, status defaults": {func(c *patient.Clinical) {}, nil},
		"unknown type":           {func(c *patient.Clinical) { c.Type = "X" }, []string{"type"}},
		"severity on a note":     {func(c *patient.Clinical) { c.Type = patient.TypeNote }, []string{"severity"}},
		"entered-in-error":       {func(c *patient.Clinical) { c.Status = patient.StatusEnteredInError }, []string{"status"}},
		"end before onset":       {func(c *patient.Clinical) { c.EndDate = patient.MustDate("2019-12-31") }, []string{"endDate"}},
		"end in the future":      {func(c *patient.Clinical) { c.EndDate = patient.MustDate("2027-01-01") }, []string{"endDate"}},
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
