package sqlstore

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		in, end string
		ok      bool
	}{
		{"smi", "smj", true},
		{"100%", "100&", true},
		{"é", "ê", true},
		{"a\U0010FFFF", "b", true},
		{"a\uD7FF", "a\uE000", true},
		{"\U0010FFFF", "", false},
		{"", "", false},
	} {
		end, ok := prefixEnd(c.in)
		assert.Equal(t, c.ok, ok, "%q", c.in)
		assert.Equal(t, c.end, end, "%q", c.in)
		if ok {
			assert.Less(t, c.in, end, "%q", c.in)
		}
	}
}
