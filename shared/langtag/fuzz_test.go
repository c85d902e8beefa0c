package langtag_test

import (
	"strings"
	"testing"

	"github.com/medisync/medisync/shared/langtag"
)

// FuzzCanonical: a tag kept is written in its one canonical form, which is
// kept as itself (a stored tag still matches a search for it, and a
// profile saved again does not change), fits the column and has no blank;
// whatever the spelling of a tag, the services store one form.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{"en", "EN", " pt_br ", "zh-hant-tw", "de-CH-1996", "es-419", "iw", "und", "en--us",
		"en-u-ca-gregory-co-phonebk", "en-x-abcdefgh-abcdefgh-abcdefgh-abc", "sl-rozaj-biske-1994", "en-a-bbb-x-a-ccc",
		"x-private", "i-klingon", "en-US-u-va-posix", "EN-latn-us"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := langtag.Canonical(s)
		if !ok {
			if c != "" {
				t.Fatalf("Canonical(%q) refused but returned %q", s, c)
			}
			return
		}
		if c == "" || len(c) > langtag.MaxLen || strings.ContainsFunc(c, func(r rune) bool { return r <= ' ' || r > '~' }) {
			t.Fatalf("Canonical(%q) = %q: not a tag a column keeps", s, c)
		}
		again, ok := langtag.Canonical(c)
		if !ok || again != c {
			t.Fatalf("Canonical(%q) = %q, which is not kept as itself: %q, %v", s, c, again, ok)
		}
		if up, ok := langtag.Canonical(strings.ToUpper(s)); !ok || up != c {
			t.Fatalf("Canonical(%q) = %q but its upper case gives %q, %v", s, c, up, ok)
		}
	})
}
