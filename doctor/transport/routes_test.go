package transport_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUnknownPathsAndMethods(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo(404, "GET", "/api/v1/nothing", e.admin.Token, nil)
	assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	e.mustDo(405, "PATCH", "/api/v1/doctors/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", e.admin.Token, nil)
}
