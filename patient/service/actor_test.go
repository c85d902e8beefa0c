package service_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
)

func TestActor(t *testing.T) {
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
		a := service.NewActor("u1", c.roles)
		assert.Equal(t, c.role, a.Role(), "%v", c.roles)
		assert.Equal(t, c.staff, a.Staff(), "%v", c.roles)
		assert.Equal(t, c.owns, a.Owns(mine), "%v", c.roles)
	}
	assert.False(t, service.NewActor("", []string{"PATIENT"}).Owns(patient.Patient{}), "no account owns an unlinked record")
}

func TestValidID(t *testing.T) {
	assert.True(t, service.ValidID(service.NewID()))
	assert.True(t, service.ValidID("0190A0C0-0000-7000-8000-000000000000"))
	for _, bad := range []string{"", "me", "0190a0c000007000800000000000000", "{0190a0c0-0000-7000-8000-000000000000}",
		"urn:uuid:0190a0c0-0000-7000-8000-000000000000", "0190a0c0-0000-7000-8000-00000000000g"} {
		assert.False(t, service.ValidID(bad), bad)
	}
}
