package langtag_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/langtag"
)

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"en": "en", "EN": "en", " en ": "en", "pt-br": "pt-BR", "pt_BR": "pt-BR", "zh_hant_tw": "zh-Hant-TW",
		"de-CH-1996": "de-CH-1996", "es-419": "es-419", "sr-latn-rs": "sr-Latn-RS", "iw": "iw",
		"en-x-abcdefgh-abcdefgh-abcdefgh-abc": "en-x-abcdefgh-abcdefgh-abcdefgh-abc", // 35 characters fit
	} {
		got, ok := langtag.Canonical(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", " ", "e", "english", "English", "en--us", "en us", "en-", "xx", "und", "en-a",
		"en" + strings.Repeat("-abcdefgh", 10), "en-x-abcdefgh-abcdefgh-abcdefgh-abcd"} {
		_, ok := langtag.Canonical(bad)
		assert.False(t, ok, bad)
	}
}
