package ids_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/shared/ids"
)

func TestIDs(t *testing.T) {
	a, b := ids.New(), ids.New()
	assert.True(t, ids.Valid(a))
	assert.Less(t, a, b, "v7 ids sort by creation")
	c, ok := ids.Canonical("0190A5C4-7B1E-7CC3-8F00-000000000001")
	assert.True(t, ok)
	assert.Equal(t, "0190a5c4-7b1e-7cc3-8f00-000000000001", c)
	assert.False(t, ids.Valid("0190a5c47b1e7cc38f00000000000001"))
}
