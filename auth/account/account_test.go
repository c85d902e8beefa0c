package account_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/account"
)

func TestNormalizeEmailAccepts(t *testing.T) {
	for in, want := range map[string]string{
		"Pat@Example.org":                       "pat@example.org",
		"  pat.q+tag@mail.example.co.uk  ":      "pat.q+tag@mail.example.co.uk",
		"o'brien@example.ie":                    "o'brien@example.ie",
		"a_b-c@sub-domain.example.com":          "a_b-c@sub-domain.example.com",
		strings.Repeat("a", 64) + "@x.org":      strings.Repeat("a", 64) + "@x.org",
		"x@" + strings.Repeat("d", 63) + ".org": "x@" + strings.Repeat("d", 63) + ".org",
	} {
		got, err := account.NormalizeEmail(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got)
	}
}

func TestNormalizeEmailRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"empty":              "",
		"blank":              "   ",
		"no at":              "pat.example.org",
		"two ats":            "pat@home@example.org",
		"quoted local part":  `"pat smith"@example.org`,
		"quote inside":       `pat"@example.org`,
		"sql quote trick":    `x' OR '1'='1@example.org`,
		"unicode local part": "pät@example.org",
		"unicode domain":     "pat@exämple.org",
		"emoji":              "😀@example.org",
		"300 characters":     strings.Repeat("a", 290) + "@example.org",
		"padded past 254":    strings.Repeat(" ", 250) + "pat@example.org",
		"local part 65":      strings.Repeat("a", 65) + "@example.org",
		"leading dot":        ".pat@example.org",
		"double dot":         "pat..q@example.org",
		"no tld":             "pat@localhost",
		"numeric tld":        "pat@example.123",
		"one-letter tld":     "pat@example.o",
		"label hyphen":       "pat@-example.org",
		"space inside":       "pat q@example.org",
		"display name":       "Pat <pat@example.org>",
		"newline":            "pat@example.org\nBcc: x@y.org",
		"invalid utf8":       "pat\xff@example.org",
		"empty label":        "pat@example..org",
	} {
		_, err := account.NormalizeEmail(in)
		assert.Error(t, err, name)
	}
}

func TestNormalizeFullName(t *testing.T) {
	got, err := account.NormalizeFullName("  Zoë Ñúñez 王  ")
	require.NoError(t, err)
	assert.Equal(t, "Zoë Ñúñez 王", got)

	for name, in := range map[string]string{
		"empty":    " ",
		"too long": strings.Repeat("é", 201),
		"control":  "Pat\x00Q",
		"newline":  "Pat\nQ",
		"bad utf8": "Pat\xffQ",
	} {
		_, err := account.NormalizeFullName(in)
		assert.Error(t, err, name)
	}
	_, err = account.NormalizeFullName(strings.Repeat("é", 200))
	assert.NoError(t, err)
}

func TestValidateGathersFields(t *testing.T) {
	_, _, err := account.Validate("nope", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "email")
	assert.Contains(t, err.Error(), "1 more")
}

// An address is at most 254 characters, the SMTP path limit, and may be
// that long.
func TestAnEmailAddressMayHave254CharactersNotMore(t *testing.T) {
	address := func(n int) string {
		// 64 before the @, and a domain of labels within their 63.
		domain := strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", n-64-1-63-1-63-1-4) + ".org"
		s := strings.Repeat("p", 64) + "@" + domain
		require.Len(t, s, n)
		return s
	}
	got, err := account.NormalizeEmail(address(254))
	require.NoError(t, err)
	assert.Equal(t, address(254), got)
	_, err = account.NormalizeEmail(address(255))
	assert.Error(t, err, "255 characters")
}
