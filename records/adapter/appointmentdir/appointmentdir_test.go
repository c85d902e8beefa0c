package appointmentdir_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/appointment"
	"github.com/medisync/medisync/appointment/endpoint"
	apptsvc "github.com/medisync/medisync/appointment/service"
	appthttp "github.com/medisync/medisync/appointment/transport"
	"github.com/medisync/medisync/records/adapter/appointmentdir"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/peerhttp"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// service is the real appointment service's HTTP handler over SQLite,
// behind a front that can be told to answer otherwise, as a stuck
// instance would.
type service struct {
	store  *sqlstore.Store
	issuer *authntest.Issuer
	srv    *httptest.Server
	down   atomic.Bool
}

func newService(t *testing.T) *service {
	t.Helper()
	s := &service{store: sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations())), issuer: authntest.NewIssuer(t)}
	// Reading and listing ask neither the doctor nor the patient service.
	svc := apptsvc.New(s.store, nil, nil, clock.System{}, ids.New, apptsvc.Options{})
	r := httpmw.NewRouter()
	appthttp.Register(r, endpoint.New(svc), s.issuer.Verifier(), nil)
	h := httpmw.Stack(r, httpmw.Options{MaxBodyBytes: appthttp.MaxBodyBytes})
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

// book stores an appointment of the doctor user with the patient, starting
// at start, with the status given.
func (s *service) book(t *testing.T, doctorUserID, patientID string, start time.Time, status appointment.Status) string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	a := appointment.Appointment{
		ID: ids.New(), PatientID: patientID, PatientUserID: ids.New(), DoctorID: ids.New(), DoctorUserID: doctorUserID,
		DoctorName: "Ada Lovelace", TimeZone: "UTC", Start: start, End: start.Add(30 * time.Minute), Status: status,
		Reason: "check-up", BookedBy: doctorUserID, CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	if status == appointment.Cancelled {
		a.CancellationReason = appointment.Clinic
	}
	require.NoError(t, s.store.Book(context.Background(), a, apptsvc.BookOptions{}))
	return a.ID
}

func (s *service) as(t *testing.T, userID string, roles ...string) context.Context {
	return authn.WithToken(context.Background(), s.issuer.Token(t, authntest.Claims{UserID: userID, Roles: roles}))
}

func newClient(s *service) *appointmentdir.Client {
	return appointmentdir.New(s.srv.Client(), peerhttp.Options{BaseURL: s.srv.URL, Timeout: time.Second, Failures: 100})
}

func TestWithPatient(t *testing.T) {
	s := newService(t)
	c := newClient(s)
	doctor, other, patient := ids.New(), ids.New(), ids.New()
	hour := time.Now().UTC().Truncate(time.Hour)
	upcoming := s.book(t, doctor, patient, hour.Add(48*time.Hour), appointment.Booked)
	past := s.book(t, doctor, patient, hour.Add(-48*time.Hour), appointment.Fulfilled)
	s.book(t, doctor, patient, hour.Add(72*time.Hour), appointment.Cancelled)
	s.book(t, other, patient, hour.Add(96*time.Hour), appointment.Booked)
	s.book(t, doctor, ids.New(), hour.Add(120*time.Hour), appointment.Booked)

	got, err := c.WithPatient(s.as(t, doctor, authn.RoleDoctor), patient)
	require.NoError(t, err)
	var idsGot []string
	for _, a := range got {
		idsGot = append(idsGot, a.ID)
		assert.Equal(t, doctor, a.DoctorUserID)
		assert.Equal(t, patient, a.PatientID)
		assert.Equal(t, doctor, a.BookedBy)
	}
	assert.Equal(t, []string{upcoming, past}, idsGot, "the doctor's own, not cancelled, upcoming then past")

	got, err = c.WithPatient(s.as(t, ids.New(), authn.RoleDoctor), patient)
	require.NoError(t, err)
	assert.Empty(t, got, "another doctor sees none")
}

func TestAppointment(t *testing.T) {
	s := newService(t)
	c := newClient(s)
	doctor, patient := ids.New(), ids.New()
	id := s.book(t, doctor, patient, time.Now().UTC().Truncate(time.Hour).Add(48*time.Hour), appointment.Booked)

	a, err := c.Appointment(s.as(t, doctor, authn.RoleDoctor), id)
	require.NoError(t, err)
	assert.Equal(t, id, a.ID)
	assert.Equal(t, patient, a.PatientID)
	assert.Equal(t, "booked", a.Status)
	assert.Equal(t, doctor, a.DoctorUserID)

	// Another doctor's appointment, and none at all, are the same answer.
	_, err = c.Appointment(s.as(t, ids.New(), authn.RoleDoctor), id)
	assert.ErrorIs(t, err, record.ErrNotFound)
	_, err = c.Appointment(s.as(t, doctor, authn.RoleDoctor), ids.New())
	assert.ErrorIs(t, err, record.ErrNotFound)
}

func TestRefusedTokenAndFaults(t *testing.T) {
	s := newService(t)
	c := newClient(s)
	_, err := c.Appointment(authn.WithToken(context.Background(), "not-a-token"), ids.New())
	assert.True(t, errors.Is(err, domainerr.Unauthenticated), "a refused token: %v", err)

	s.down.Store(true)
	_, err = c.WithPatient(s.as(t, ids.New(), authn.RoleDoctor), ids.New())
	assert.ErrorIs(t, err, appointmentdir.ErrUnavailable)
	assert.True(t, errors.Is(err, domainerr.Unavailable))
}
