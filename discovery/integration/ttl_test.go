package integration

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/discovery/registry"
	"github.com/medisync/medisync/shared/discovery"
)

// The lease range a service checks at start is the one a server grants by
// default: the two are written apart (the registry imports no client), so
// this holds them together.
func TestClientsLeaseRangeIsTheServersDefault(t *testing.T) {
	l := registry.DefaultLimits()
	assert.Equal(t, l.MinTTL, discovery.MinTTL)
	assert.Equal(t, l.MaxTTL, discovery.MaxTTL)
	assert.Equal(t, l.DefaultTTL, discovery.DefaultTTL)
}
