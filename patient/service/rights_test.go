package service

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/shared/authn"
)

func TestRights(t *testing.T) {
	mine := patient.Patient{UserID: "u1"}
	cases := []struct {
		roles       []string
		role        string
		staff, owns bool
	}{
		{[]string{"PATIENT"}, "PATIENT", false, true},
		{[]string{"DOCTOR"}, "DOCTOR", true, false},
		{[]string{"PATIENT", "DOCTOR"}, "DOCTOR", true, true},
		{[]string{"DOCTOR", "ADMIN"}, "ADMIN", true, false},
		{[]string{"NURSE"}, "", false, false},
		{nil, "", false, false},
	}
	for _, c := range cases {
		actor := authn.Principal{UserID: "u1", Roles: c.roles}
		assert.Equal(t, c.role, actor.PrimaryRole(), "%v", c.roles)
		assert.Equal(t, c.staff, staff(actor), "%v", c.roles)
		assert.Equal(t, c.owns, owns(actor, mine), "%v", c.roles)
	}
	assert.False(t, owns(authn.Principal{Roles: []string{"PATIENT"}}, patient.Patient{}), "no account owns an unlinked record")
}
