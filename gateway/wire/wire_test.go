package wire

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFixedInstances(t *testing.T) {
	got, err := fixedInstances(" patient=127.0.0.1:8083, patient=127.0.0.1:9083,auth=h:1 ")
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"patient": {"127.0.0.1:8083", "127.0.0.1:9083"}, "auth": {"h:1"}}, got)
	for _, bad := range []string{"patient", "=h:1", "patient="} {
		_, err := fixedInstances(bad)
		assert.Error(t, err, bad)
	}
}
