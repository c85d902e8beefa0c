package service_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/doctor/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/page"
)

// fieldNames are the fields err names, which must be field errors.
func fieldNames(t *testing.T, err error) []string {
	t.Helper()
	var fe domainerr.FieldErrors
	require.ErrorAs(t, err, &fe)
	var out []string
	for _, f := range fe {
		out = append(out, f.Field)
	}
	return out
}

// A span that ends when it starts is no slot to ask about: the slot check
// refuses it by naming end.
func TestTheSlotCheckRefusesASpanEndingAtItsStart(t *testing.T) {
	f := newStrandFixture(t)
	_, err := f.svc.CheckSlot(context.Background(), f.admin, f.doctor.ID, "2026-02-02T14:00:00Z", "2026-02-02T14:00:00Z")
	assert.Equal(t, []string{"end"}, fieldNames(t, err))
}

// The license number a doctor sends back as read is no change, whatever
// blanks surround it: it is stored trimmed.
func TestADoctorsLicenseSentBackWithBlanksIsNoChange(t *testing.T) {
	ctx := context.Background()
	f := newStrandFixture(t)
	me := authn.Principal{UserID: ids.New(), Roles: []string{authn.RoleDoctor}}
	lic := "LIC-7"
	in := service.DoctorInput{FirstName: "Grace", LastName: "Hopper", Email: "grace@example.org",
		LicenseNumber: &lic, TimeZone: "America/New_York", AppointmentMinutes: 30}
	d, err := f.svc.CreateDoctor(ctx, me, in)
	require.NoError(t, err)

	padded := "  LIC-7 "
	in.LicenseNumber, in.Bio = &padded, "Rear admiral."
	d, err = f.svc.UpdateDoctor(ctx, me, d.ID, d.Version, in)
	require.NoError(t, err)
	assert.Equal(t, "LIC-7", d.LicenseNumber)
	assert.Equal(t, "Rear admiral.", d.Bio)

	other := "LIC-8"
	in.LicenseNumber = &other
	_, err = f.svc.UpdateDoctor(ctx, me, d.ID, d.Version, in)
	assert.Equal(t, []string{"licenseNumber"}, fieldNames(t, err))
}

// A page may hold from 1 to page.MaxLimit items, the bound included.
func TestPagesHoldUpToTheLimitIncluded(t *testing.T) {
	ctx := context.Background()
	f := newStrandFixture(t)
	_, err := f.svc.SearchDoctors(ctx, f.admin, service.SearchInput{Limit: page.MaxLimit})
	require.NoError(t, err)
	_, err = f.svc.ListSpecializations(ctx, f.admin, page.MaxLimit, "")
	require.NoError(t, err)

	_, err = f.svc.SearchDoctors(ctx, f.admin, service.SearchInput{Limit: page.MaxLimit + 1})
	assert.Equal(t, []string{"limit"}, fieldNames(t, err))
	_, err = f.svc.ListSpecializations(ctx, f.admin, page.MaxLimit+1, "")
	assert.Equal(t, []string{"limit"}, fieldNames(t, err))
}
