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

// An upload whose body did not arrive in time is a 408; one cut short a
// 400 (the service tells them apart, tested there).
func TestUploadFailuresOfTheClient(t *testing.T) {
	assert.Equal(t, 408, transport.ErrorStatus(fmt.Errorf("store: %w", record.ErrUploadTooSlow)))
	assert.Equal(t, 0, transport.ErrorStatus(fmt.Errorf("store: %w", record.ErrUploadCut)), "the Invalid kind's 400")
}
