package service_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/go-kit/log"
	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/doctor/profile"
	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/metrics"
)

// stub answers the calls the middleware tests make; any other call panics
// on the nil embedded interface.
type stub struct {
	service.Service
	err error
}

func (s stub) CreateDoctor(context.Context, authn.Principal, service.DoctorInput) (profile.Doctor, error) {
	return profile.Doctor{ID: "doc-1", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org"}, s.err
}

func TestLoggingKeepsPersonalDataOut(t *testing.T) {
	var buf bytes.Buffer
	logger := log.NewLogfmtLogger(&buf)
	svc := service.Middleware(logger, metrics.NewMethod(metrics.NewRegistry(), "doctor"))(stub{err: errors.New("boom")})
	in := service.DoctorInput{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.org", Phone: "+14155550123", Bio: "secret"}
	_, err := svc.CreateDoctor(context.Background(), authn.Principal{UserID: "u-1"}, in)
	assert.Error(t, err)
	out := buf.String()
	assert.Contains(t, out, "method=CreateDoctor")
	assert.Contains(t, out, "err=boom")
	for _, secret := range []string{"Ada", "Lovelace", "ada@example.org", "+14155550123", "secret"} {
		assert.NotContains(t, out, secret)
	}
}

func TestInstrumentingCountsCalls(t *testing.T) {
	reg := metrics.NewRegistry()
	svc := service.Middleware(log.NewNopLogger(), metrics.NewMethod(reg, "doctor"))(stub{})
	_, err := svc.CreateDoctor(context.Background(), authn.Principal{UserID: "u-1"}, service.DoctorInput{})
	assert.NoError(t, err)
	families, err := reg.Gather()
	assert.NoError(t, err)
	found := false
	for _, f := range families {
		if f.GetName() == "medisync_doctor_method_calls_total" {
			for _, m := range f.GetMetric() {
				found = found || m.GetCounter().GetValue() == 1
			}
		}
	}
	assert.True(t, found)
}
