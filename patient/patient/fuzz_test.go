package patient_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/domainerr"
)

// profileFields are the fields a profile's errors may name.
var profileFields = map[string]bool{
	"firstName": true, "lastName": true, "dateOfBirth": true, "sex": true, "email": true, "phone": true,
	"address.line1": true, "address.line2": true, "address.city": true, "address.state": true,
	"address.postalCode": true, "address.country": true, "emergencyContact.name": true,
	"emergencyContact.relationship": true, "emergencyContact.phone": true, "preferredLanguage": true, "bloodType": true,
}

// checkErrors fails unless every error names a known field with a message.
func checkErrors(t *testing.T, fe domainerr.FieldErrors, known map[string]bool) {
	t.Helper()
	for _, e := range fe {
		if !known[e.Field] || e.Message == "" {
			t.Fatalf("field error %+v names no field of the request", e)
		}
	}
}

// FuzzProfile: a profile that passes is what a store keeps: every text
// field valid UTF-8 without control characters, trimmed and within its
// column, and normalising and checking it again changes nothing (a profile
// read and saved back is still valid and the same); one that does not
// pass is refused with errors naming its fields.
func FuzzProfile(f *testing.F) {
	f.Add("Ada", "Lovelace", "1985-12-10", "female", "ada@example.org", "+14155550123", "1 Main St", "London", "GB",
		"Charles", "+441632960000", "en", "AB+")
	f.Add(" Ada\u00a0", "\u0085", "1899-12-31", "", "Ada <ada@example.org>", "+0123", "\t", " ", "gb", "", "", "EN_gb", "ab+")
	f.Add("a\x00", "b\u2028", "2999-01-01", "f", "ada@[127.0.0.1]", "+1 415 555", "x", "", "DE", "x", "+1", "und", "O")
	f.Add("Zoë", "Ñúñez", "2026-06-15", "other", `"a b"@example.org`, "+491234567", "", "Berlin", "DE", "", "", "pt_br", "")
	f.Add("İsmail", "Ⱥ", "2000-02-29", "unknown", "pät@exämple.org", "", "", "", "", "", "", "zh-hant-tw", "")
	today := civil.MustParse("2026-06-15")
	f.Fuzz(func(t *testing.T, first, last, dob, sex, email, phone, line1, city, country, ecName, ecPhone, lang, blood string) {
		p := patient.Profile{FirstName: first, LastName: last, Sex: patient.Sex(sex), Email: email, Phone: phone,
			Address:          patient.Address{Line1: line1, City: city, Country: country},
			EmergencyContact: patient.EmergencyContact{Name: ecName, Phone: ecPhone}, PreferredLanguage: lang, BloodType: blood}
		if d, err := civil.Parse(dob); err == nil {
			p.DateOfBirth = d
		}
		p.Normalize()
		if fe := p.Validate(today); len(fe) > 0 {
			checkErrors(t, fe, profileFields)
			return
		}
		for _, c := range []struct {
			field, v string
			max      int
		}{
			{"firstName", p.FirstName, patient.MaxNameLen}, {"lastName", p.LastName, patient.MaxNameLen},
			{"email", p.Email, patient.MaxEmailLen}, {"phone", p.Phone, 16},
			{"address.line1", p.Address.Line1, patient.MaxLineLen}, {"address.city", p.Address.City, patient.MaxCityLen},
			{"address.country", p.Address.Country, 2}, {"emergencyContact.name", p.EmergencyContact.Name, patient.MaxLineLen},
			{"emergencyContact.phone", p.EmergencyContact.Phone, 16}, {"preferredLanguage", p.PreferredLanguage, patient.MaxLangLen},
			{"bloodType", p.BloodType, 3},
		} {
			if !utf8.ValidString(c.v) || patient.HasControl(c.v, false) || strings.TrimSpace(c.v) != c.v ||
				utf8.RuneCountInString(c.v) > c.max {
				t.Fatalf("%s %q is accepted but is no value to store", c.field, c.v)
			}
			// Names and the email are stored lower-cased too, in columns as wide.
			if n := patient.NormalizeName(c.v); utf8.RuneCountInString(n) > c.max {
				t.Fatalf("%s %q lower-cased is %q, longer than its column", c.field, c.v, n)
			}
		}
		again := p
		again.Normalize()
		if again != p {
			t.Fatalf("a valid profile changes when normalised again: %+v, then %+v", p, again)
		}
		if fe := again.Validate(today); len(fe) > 0 {
			t.Fatalf("a valid profile %+v is refused once normalised again: %v", p, fe)
		}
	})
}

// clinicalFields are the fields a history entry's errors may name.
var clinicalFields = map[string]bool{
	"type": true, "description": true, "code": true, "codeSystem": true, "status": true, "onsetDate": true,
	"endDate": true, "severity": true, "notes": true,
}

// FuzzClinical: a history entry that passes is stored text without
// control characters (line breaks and tabs only in notes), with dates in
// order and not after today, and passes again once normalised again; one
// that does not is refused with errors naming its fields.
func FuzzClinical(f *testing.F) {
	f.Add("ALLERGY", " Peanuts ", "", "", "", "2020-01-01", "2021-01-01", "mild", "a\nb\tc")
	f.Add("NOTE", "x", "123", "", "entered-in-error", "2027-01-01", "2019-12-31", "severe", "\x00")
	f.Add("condition", "\u0085", "I10", "http://hl7.org/fhir/sid/icd-10", "resolved", "", "", "", "\r\n")
	f.Add("CONDITION", "Hypertension", "I10\u2028", "icd-10", "active", "2026-06-15", "2026-06-15", "moderate", "")
	today := civil.MustParse("2026-06-15")
	f.Fuzz(func(t *testing.T, typ, desc, code, system, status, onset, end, severity, notes string) {
		c := patient.Clinical{Type: patient.EntryType(typ), Description: desc, Code: code, CodeSystem: system,
			Status: patient.EntryStatus(status), Severity: patient.Severity(severity), Notes: notes}
		if d, err := civil.Parse(onset); err == nil {
			c.OnsetDate = d
		}
		if d, err := civil.Parse(end); err == nil {
			c.EndDate = d
		}
		c.Normalize()
		if fe := c.Validate(today); len(fe) > 0 {
			checkErrors(t, fe, clinicalFields)
			return
		}
		for _, v := range []string{c.Description, c.Code, c.CodeSystem} {
			if !utf8.ValidString(v) || patient.HasControl(v, false) || strings.TrimSpace(v) != v {
				t.Fatalf("%q is accepted but is no one-line value to store", v)
			}
		}
		if !utf8.ValidString(c.Notes) || patient.HasControl(c.Notes, true) {
			t.Fatalf("notes %q are accepted but hold control characters", c.Notes)
		}
		if !c.Type.Valid() || !c.Status.Settable() || (c.Severity != "" && !c.Type.HasSeverity()) {
			t.Fatalf("entry %+v is accepted with a type, status or severity it may not have", c)
		}
		if c.OnsetDate.After(today) || c.EndDate.After(today) ||
			(!c.OnsetDate.IsZero() && !c.EndDate.IsZero() && c.EndDate.Before(c.OnsetDate)) {
			t.Fatalf("entry %+v is accepted with dates out of order", c)
		}
		again := c
		again.Normalize()
		if again != c || len(again.Validate(today)) > 0 {
			t.Fatalf("a valid entry %+v changes or is refused once normalised again", c)
		}
	})
}
