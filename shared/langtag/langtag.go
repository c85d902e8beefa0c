// Package langtag checks BCP 47 language tags and writes them canonically,
// so that every service stores and compares one form of a language.
package langtag

import (
	"strings"

	"golang.org/x/text/language"
)

// MaxLen is the longest tag kept: the columns' width, longer than any tag in
// use.
const MaxLen = 35

// Canonical checks tag and writes it canonically: language lower case,
// script title case, region upper case ("EN" is en, "pt_br" is pt-BR,
// "zh-hant-tw" is zh-Hant-TW). A tag must be well formed and of subtags the
// IANA registry knows; "und" (undetermined) names no language. Deprecated
// codes are kept as given (iw stays iw), so a stored tag still matches a
// search for it.
func Canonical(tag string) (string, bool) {
	tag = strings.TrimSpace(tag)
	if tag == "" || len(tag) > MaxLen {
		return "", false
	}
	t, err := language.Raw.Parse(tag)
	if err != nil {
		return "", false
	}
	s := t.String()
	if s == "und" || len(s) > MaxLen {
		return "", false
	}
	return s, true
}
