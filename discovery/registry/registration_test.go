package registry_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/shared/problem"
)

// A map an adapter keeps beside the metadata is held to the same rules,
// with the field it names in the errors.
func TestCheckMetadataNamesTheField(t *testing.T) {
	l := registry.DefaultLimits()
	require.NoError(t, l.CheckMetadata("dc.metadata", map[string]string{"availability-zone": "eu-1a", "zone/rack": "", "note": "Zürich — rack 7"}))
	require.NoError(t, l.CheckMetadata("dc.metadata", nil))
	big := map[string]string{}
	for _, k := range strings.Split("k l m n o p q r s", " ") {
		big[k] = strings.Repeat("v", 500)
	}
	for _, tc := range []struct {
		md    map[string]string
		field string
	}{
		{map[string]string{`a b="c"><x`: "1"}, "dc.metadata"},
		{map[string]string{"k": strings.Repeat("v", 513)}, "dc.metadata.k"},
		{big, "dc.metadata"},
		{map[string]string{"k": "\x1b[2J\x1b]0;x\a"}, "dc.metadata.k"},
		{map[string]string{"k": "a\r\nb"}, "dc.metadata.k"},
		{map[string]string{"k": "\u009b2J"}, "dc.metadata.k"},
		{map[string]string{"k": "\xff"}, "dc.metadata.k"},
	} {
		var fe problem.FieldErrors
		require.ErrorAs(t, l.CheckMetadata("dc.metadata", tc.md), &fe)
		assert.Equal(t, tc.field, fe[0].Field)
	}
}
