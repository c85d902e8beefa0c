package sqlstore

import (
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
)

func TestPrefixRange(t *testing.T) {
	for _, tc := range []struct {
		prefix, hi string
		bounded    bool
	}{
		{"sm", "sn", true},
		{"a", "b", true},
		{"z", "{", true},
		{"é", "ê", true},
		{"o'b", "o'c", true},
		{"a\uD7FF", "a\uE000", true},
		{"a" + string(unicode.MaxRune), "b", true},
		{string(unicode.MaxRune), "", false},
	} {
		lo, hi, bounded := prefixRange(tc.prefix)
		assert.Equal(t, tc.prefix, lo)
		assert.Equal(t, tc.hi, hi, tc.prefix)
		assert.Equal(t, tc.bounded, bounded, tc.prefix)
		if bounded {
			// Every string that starts with the prefix lies in the range.
			for _, tail := range []string{"", "a", "zzz", string(unicode.MaxRune)} {
				s := tc.prefix + tail
				assert.True(t, lo <= s && s < hi, "%q in [%q, %q)", s, lo, hi)
			}
			assert.False(t, strings.HasPrefix(hi, tc.prefix), "%q ends the range", hi)
		}
	}
}
