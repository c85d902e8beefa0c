package profile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/domainerr"
)

// allUTF8 reports whether every string is valid UTF-8 on its own.
func allUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// doctorField reports whether a field error names a field of the request.
func doctorField(f string) bool {
	switch f {
	case "firstName", "lastName", "email", "phone", "licenseNumber", "bio", "appointmentMinutes", "timeZone",
		"languages", "specializationIds":
		return true
	}
	return strings.HasPrefix(f, "languages[") || strings.HasPrefix(f, "specializationIds[")
}

// FuzzDoctorNormalize: a profile that passes is what a store keeps (names
// one line of single-spaced text within their columns, name tokens within
// theirs) and passes unchanged once normalised again, as a profile read and
// saved back must; a search for the doctor's own name finds them; one that
// does not pass is refused with errors naming its fields.
func FuzzDoctorNormalize(f *testing.F) {
	f.Add("  Ada ", "Lovelace", "ada@example.org", "+14155550123", "MD-12345", "Bio\nline", "Europe/Berlin", 0, "EN", "pt_br",
		"0190A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B")
	f.Add("Mary\u00a0Ann", "Smith-Jones", "a@b.c", "", " lic ", "\x00", "Local", 241, "und", "en--us", "not-a-uuid")
	f.Add("İsmail", "ǅemal\u2028x", "x@y", "+0123", "-x", "\r\n\t", "America/New_York", 5, "zh-hant-tw", "ZH-Hant-TW",
		"{0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}")
	f.Add("a\x85b", "Ⱥ-ß", "ädä@exämple.org", "+491234567890", "A/B.C D", "", "UTC", 240, "", "i-klingon", "")
	f.Fuzz(func(t *testing.T, first, last, email, phone, license, bio, zone string, minutes int, lang1, lang2, spec string) {
		d := Doctor{FirstName: first, LastName: last, Email: email, Phone: phone, LicenseNumber: license, Bio: bio,
			TimeZone: zone, AppointmentMinutes: minutes, Languages: []string{lang1, lang2}, SpecializationIDs: []string{spec}}
		if err := d.Normalize(); err != nil {
			var fe domainerr.FieldErrors
			if !errors.As(err, &fe) || len(fe) == 0 {
				t.Fatalf("Normalize refuses with %v, not field errors", err)
			}
			for _, e := range fe {
				if !doctorField(e.Field) || e.Message == "" {
					t.Fatalf("field error %+v names no field of the request", e)
				}
			}
			return
		}
		// What reaches Normalize came through JSON, which is valid UTF-8.
		if !allUTF8(first, last, email, license, bio) {
			return
		}
		for _, n := range []string{d.FirstName, d.LastName} {
			if n == "" || HasControl(n) || n != strings.Join(strings.Fields(n), " ") || utf8.RuneCountInString(n) > MaxNameLength {
				t.Fatalf("name %q is accepted but is no name to store", n)
			}
		}
		tokens := NameTokens(d.FirstName, d.LastName)
		for _, tok := range tokens {
			if utf8.RuneCountInString(tok) > MaxNameLength {
				t.Fatalf("name token %q is longer than its column", tok)
			}
		}
		if words := NamePrefixes(d.FirstName + " " + d.LastName); len(words) <= MaxSearchWords {
			for _, w := range words {
				found := false
				for _, tok := range tokens {
					found = found || strings.HasPrefix(tok, w)
				}
				if !found {
					t.Fatalf("a search for %q does not find %q %q: tokens %q", w, d.FirstName, d.LastName, tokens)
				}
			}
		}
		again := d
		again.Languages = append([]string(nil), d.Languages...)
		again.SpecializationIDs = append([]string(nil), d.SpecializationIDs...)
		if err := again.Normalize(); err != nil || !reflect.DeepEqual(again, d) {
			t.Fatalf("a valid profile %+v is refused or changed once normalised again: %+v, %v", d, again, err)
		}
	})
}

// FuzzSpecializationNormalize: a specialization that passes has a
// single-spaced one-line name and passes unchanged once normalised again,
// so its NameKey, which decides uniqueness, is stable.
func FuzzSpecializationNormalize(f *testing.F) {
	for _, s := range []string{"  Pediatric   Cardiology ", "Cardio\x00logy", "\u00a0Σ\u2028", "", "a\nb"} {
		f.Add(s, "Description\nof it")
	}
	f.Fuzz(func(t *testing.T, name, desc string) {
		s := Specialization{Name: name, Description: desc}
		if err := s.Normalize(); err != nil {
			var fe domainerr.FieldErrors
			if !errors.As(err, &fe) || len(fe) == 0 || (fe[0].Field != "name" && fe[0].Field != "description") {
				t.Fatalf("Normalize(%q, %q) refuses with %v, not field errors", name, desc, err)
			}
			return
		}
		if !allUTF8(name, desc) {
			return // JSON brings valid UTF-8 only
		}
		if s.Name == "" || HasControl(s.Name) || s.Name != strings.Join(strings.Fields(s.Name), " ") || NameKey(s.Name) == "" {
			t.Fatalf("name %q is accepted but is no name to store", s.Name)
		}
		again := s
		if err := again.Normalize(); err != nil || again != s || NameKey(again.Name) != NameKey(s.Name) {
			t.Fatalf("%+v is refused or changed once normalised again: %+v, %v", s, again, err)
		}
	})
}
