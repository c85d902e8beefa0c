package account_test

import (
	"errors"
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/auth/account"
	"github.com/medisync/medisync/shared/domainerr"
)

// FuzzNormalizeEmail: an address kept is the one form every spelling of it
// maps to (case and surrounding blanks make no second account), keeps
// normalising to itself, and is a bare address a mail library accepts as
// it is; anything else is a field error on email.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"Pat@Example.org", "  pat.q+tag@mail.example.co.uk\t", "o'brien@example.ie", "pat@example.org.",
		"PAT@EXAMPLE.ORG", "\u00a0pat@example.org\u0085", "pat@xn--exmple-cua.org", "pät@example.org", "pat@exämple.org",
		"ǅ@example.org", "K@example.org", "pat@example.o", "pat@example.123", "a..b@x.org", ".a@x.org", "a@-x.org",
		`"a b"@x.org`, "a@[127.0.0.1]", "pat@localhost", "Pat <pat@example.org>", "pat@example.org (Pat)", "a@b@c.org",
		strings.Repeat("a", 64) + "@x.org", strings.Repeat("a", 65) + "@x.org", "\xffpat@example.org"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := account.NormalizeEmail(s)
		_, _, verr := account.Validate(s, "Pat")
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("NormalizeEmail(%q) refused without a message", s)
			}
			var fe domainerr.FieldErrors
			if !errors.As(verr, &fe) || len(fe) != 1 || fe[0].Field != "email" || fe[0].Message != err.Error() {
				t.Fatalf("Validate(%q) = %v: want the field error on email %q", s, verr, err)
			}
			return
		}
		if verr != nil {
			t.Fatalf("NormalizeEmail(%q) accepts but Validate refuses: %v", s, verr)
		}
		if got == "" || len(got) > account.MaxEmailLength || got != strings.ToLower(got) {
			t.Fatalf("NormalizeEmail(%q) = %q: not a stored form", s, got)
		}
		for _, r := range got {
			if r > unicode.MaxASCII || r <= ' ' || r == 0x7f {
				t.Fatalf("NormalizeEmail(%q) = %q keeps %q", s, got, r)
			}
		}
		if again, err := account.NormalizeEmail(got); err != nil || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, which normalises to %q, %v", s, got, again, err)
		}
		if up, err := account.NormalizeEmail(strings.ToUpper(got)); err != nil || up != got {
			t.Fatalf("%q in upper case normalises to %q, %v, not %q", got, up, err, got)
		}
		if padded := " " + got + "\t"; len(padded) <= account.MaxEmailLength {
			if p, err := account.NormalizeEmail(padded); err != nil || p != got {
				t.Fatalf("%q with blanks normalises to %q, %v", got, p, err)
			}
		}
		a, err := mail.ParseAddress(got)
		if err != nil || a.Address != got || a.Name != "" {
			t.Fatalf("NormalizeEmail(%q) = %q, which net/mail reads as %v, %v", s, got, a, err)
		}
	})
}

// FuzzNormalizeFullName: a name kept is trimmed UTF-8 of 1 to 200
// characters with no control character, and is kept as itself; anything
// else is a field error on fullName.
func FuzzNormalizeFullName(f *testing.F) {
	for _, s := range []string{"Ada Lovelace", "  José Ñúñez ", "李小龍", "a\x00b", "a\nb", "\u2028", "\xff", "\u00a0Ada\u0085",
		strings.Repeat("é", 200), strings.Repeat("é", 201), "Ada\u202eecalevoL"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := account.NormalizeFullName(s)
		_, _, verr := account.Validate("pat@example.org", s)
		if err != nil {
			var fe domainerr.FieldErrors
			if !errors.As(verr, &fe) || len(fe) != 1 || fe[0].Field != "fullName" || fe[0].Message != err.Error() {
				t.Fatalf("Validate(%q) = %v: want the field error on fullName %q", s, verr, err)
			}
			return
		}
		n := utf8.RuneCountInString(got)
		if !utf8.ValidString(got) || n == 0 || n > account.MaxFullNameLength || got != strings.TrimSpace(got) ||
			strings.ContainsFunc(got, unicode.IsControl) {
			t.Fatalf("NormalizeFullName(%q) = %q: not a name to store", s, got)
		}
		if again, err := account.NormalizeFullName(got); err != nil || again != got {
			t.Fatalf("NormalizeFullName(%q) = %q, which normalises to %q, %v", s, got, again, err)
		}
	})
}
