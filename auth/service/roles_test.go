package service_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/shared/authn"
)

func TestNormalizeRoles(t *testing.T) {
	got, err := service.NormalizeRoles([]string{"PATIENT", "ADMIN", "PATIENT"})
	require.NoError(t, err)
	assert.Equal(t, []string{"ADMIN", "PATIENT"}, got, "deduplicated, canonical order")

	_, err = service.NormalizeRoles(nil)
	assert.Error(t, err)
	_, err = service.NormalizeRoles([]string{"admin"})
	assert.Error(t, err, "roles are case-sensitive")
	_, err = service.NormalizeRoles([]string{"PATIENT"}, authn.RoleAdmin, authn.RoleDoctor)
	assert.Error(t, err, "outside the allowed set")
}
