package transport_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/records/transport"
)

// A user's upload past their limit is a 429 with Retry-After (the limit
// itself is the service's, tested there).
func TestTooManyUploadsIs429(t *testing.T) {
	p := transport.TooManyUploads(fmt.Errorf("store: %w", record.ErrTooManyUploads))
	require.NotNil(t, p)
	assert.Equal(t, 429, p.Status)
	assert.Equal(t, "5", p.Headers.Get("Retry-After"))
	assert.Nil(t, transport.TooManyUploads(record.ErrTooLarge))
}
