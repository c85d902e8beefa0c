package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// TestNoNoticeRefusalSaysTheAppointmentHasStarted: with no notice (CancelNotice
// 0, -cancel-notice 0) a patient may cancel until the start; once it has
// started the refusal should say so, not that the appointment may be
// cancelled "no later than 0 hours before it starts".
func TestNoNoticeRefusalSaysTheAppointmentHasStarted(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	ctx := context.Background()
	doc := service.Doctor{ID: ids.New(), UserID: ids.New(), Name: "Ada Lovelace", TimeZone: "UTC", Active: true}
	dir := &patientsByUser{all: map[string]*service.Patient{}}
	p := authn.Principal{UserID: ids.New(), Roles: []string{authn.RolePatient}}
	dir.all[p.UserID] = &service.Patient{ID: ids.New(), UserID: p.UserID, Active: true, Version: 1}
	clk := clocktest.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	svc := service.New(sqlstore.New(db), anyGrid{doc}, dir, clk, ids.New, service.Options{CancelNotice: 0})
	as := authn.NewContext(ctx, p)

	res, err := svc.Book(as, p, service.BookInput{DoctorID: doc.ID, Start: "2030-01-01T10:00:00Z", End: "2030-01-01T10:30:00Z"})
	require.NoError(t, err)
	clk.Set(time.Date(2030, 1, 1, 10, 10, 0, 0, time.UTC))
	_, err = svc.Cancel(as, p, res.Appointment.ID, 0, service.CancelInput{})
	require.Error(t, err, "started: refused")
	assert.NotContains(t, err.Error(), "0 hours", "no notice: the refusal says the appointment has started")
}
