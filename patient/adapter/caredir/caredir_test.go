package caredir_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/caredir"
	"github.com/medisync/medisync/records/adapter/sqlstore"
	"github.com/medisync/medisync/records/endpoint"
	records "github.com/medisync/medisync/records/service"
	recordshttp "github.com/medisync/medisync/records/transport"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// appointments stands in for the appointment service behind records: the
// one appointment, of doctor with patient, booked by the patient.
type appointments struct{ doctor, patient string }

func (a appointments) WithPatient(ctx context.Context, patientID string) ([]records.AppointmentRef, error) {
	p, _ := authn.FromContext(ctx)
	if p.UserID != a.doctor || patientID != a.patient {
		return nil, nil
	}
	return []records.AppointmentRef{{ID: ids.New(), PatientID: a.patient, DoctorUserID: a.doctor, BookedBy: ids.New(), Status: "booked"}}, nil
}

func (a appointments) Appointment(context.Context, string) (records.AppointmentRef, error) {
	return records.AppointmentRef{}, errors.New("not asked")
}

// server is the real records service's HTTP handler over SQLite, behind a
// front that can be told to fail as a stuck instance would.
type server struct {
	issuer *authntest.Issuer
	srv    *httptest.Server
	down   atomic.Bool
}

func newServer(t *testing.T, a appointments) *server {
	t.Helper()
	s := &server{issuer: authntest.NewIssuer(t)}
	store := sqlstore.New(sqltest.SQLite(t, sqlstore.Migrations()))
	svc := records.New(records.Deps{Encounters: store, Documents: store, Audit: store, Appointments: a, Clock: clock.System{}})
	r := httpmw.NewRouter()
	recordshttp.Register(r, endpoint.New(svc), s.issuer.Verifier(), recordshttp.Options{})
	h := httpmw.Stack(r, httpmw.Options{})
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

func (s *server) as(t *testing.T, userID string, roles ...string) context.Context {
	return authn.WithToken(context.Background(), s.issuer.Token(t, authntest.Claims{UserID: userID, Roles: roles}))
}

func TestTreating(t *testing.T) {
	doctor, patient := ids.New(), ids.New()
	s := newServer(t, appointments{doctor: doctor, patient: patient})
	o := caredir.Options(s.srv.URL)
	o.Failures = 100
	c := caredir.New(s.srv.Client(), o)

	ok, err := c.Treating(s.as(t, doctor, authn.RoleDoctor), patient)
	require.NoError(t, err)
	assert.True(t, ok, "an appointment the patient booked")

	ok, err = c.Treating(s.as(t, ids.New(), authn.RoleDoctor), patient)
	require.NoError(t, err)
	assert.False(t, ok, "another doctor")

	ok, err = c.Treating(s.as(t, doctor, authn.RoleDoctor), ids.New())
	require.NoError(t, err)
	assert.False(t, ok, "another patient")

	ok, err = c.Treating(s.as(t, ids.New(), authn.RoleAdmin), patient)
	require.NoError(t, err)
	assert.False(t, ok, "records refuses the question to an administrator: no treating doctor")

	_, err = c.Treating(authn.WithToken(context.Background(), "not-a-token"), patient)
	assert.True(t, errors.Is(err, domainerr.Unauthenticated), "a refused token: %v", err)

	s.down.Store(true)
	_, err = c.Treating(s.as(t, doctor, authn.RoleDoctor), patient)
	assert.ErrorIs(t, err, caredir.ErrUnavailable)
	assert.True(t, errors.Is(err, domainerr.Unavailable))
}

// A records service without the route (an older version during a rollout,
// a wrong -records-url) gives no answer, not a no: 503, no denials.
func TestARecordsWithoutTheRouteIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	c := caredir.New(srv.Client(), caredir.Options(srv.URL))
	_, err := c.Treating(authn.WithToken(context.Background(), "a-token"), ids.New())
	assert.ErrorIs(t, err, caredir.ErrUnavailable)
}
