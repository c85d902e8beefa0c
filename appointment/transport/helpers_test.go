package transport_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/endpoint"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/transport"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// directory stands in for the doctor and patient services: every doctor
// works 09:00-17:00 UTC every day in 30-minute slots.
type directory struct {
	mu       sync.Mutex
	doctors  map[string]service.Doctor
	patients map[string]service.Patient // by id
	down     bool
	// profileHangs makes a read of a doctor's profile wait for its
	// context's end, as a hung doctor service does.
	profileHangs bool
}

var errDown = domainerr.New(domainerr.Unavailable, "the doctor service cannot answer now")

func (d *directory) CheckSlot(_ context.Context, id string, start, end time.Time) (service.SlotCheck, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return service.SlotCheck{}, errDown
	}
	doc, ok := d.doctors[id]
	if !ok {
		return service.SlotCheck{}, service.ErrUnknownDoctor
	}
	on := start.Minute()%30 == 0 && start.Second() == 0 && end.Sub(start) == 30*time.Minute &&
		start.Hour() >= 9 && end.Hour()*60+end.Minute() <= 17*60
	return service.SlotCheck{Doctor: doc, OnGrid: on}, nil
}

func (d *directory) doctorByUser(userID string) (service.Doctor, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, doc := range d.doctors {
		if doc.UserID == userID {
			return doc, nil
		}
	}
	return service.Doctor{}, service.ErrUnknownDoctor
}

type doctorsPort struct{ *directory }

func (p doctorsPort) Me(ctx context.Context) (service.Doctor, error) {
	a, _ := authn.FromContext(ctx)
	return p.doctorByUser(a.UserID)
}

func (p doctorsPort) Get(ctx context.Context, id string) (service.Doctor, error) {
	p.mu.Lock()
	hangs := p.profileHangs
	doc, ok := p.doctors[id]
	p.mu.Unlock()
	switch {
	case hangs:
		<-ctx.Done()
		return service.Doctor{}, ctx.Err()
	case !ok:
		return service.Doctor{}, service.ErrUnknownDoctor
	}
	return doc, nil
}

// setZone moves the test doctor to another time zone, as a new timeZone on
// their profile does (the grid here stays the same instants, as it does for
// a doctor working around the clock, or after an administrator's
// strandBookings=true).
func (e *env) setZone(zone string) {
	e.dir.mu.Lock()
	defer e.dir.mu.Unlock()
	d := e.dir.doctors[e.DoctorID]
	d.TimeZone = zone
	e.dir.doctors[e.DoctorID] = d
}

type patientsPort struct{ *directory }

func (p patientsPort) Me(ctx context.Context) (service.Patient, error) {
	a, _ := authn.FromContext(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pat := range p.patients {
		if pat.UserID == a.UserID {
			return pat, nil
		}
	}
	return service.Patient{}, service.ErrUnknownPatient
}

func (p patientsPort) Get(_ context.Context, id string) (service.Patient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pat, ok := p.patients[id]; ok {
		return pat, nil
	}
	return service.Patient{}, service.ErrUnknownPatient
}

type user struct {
	ID        string
	Token     string
	PatientID string
}

type env struct {
	t        *testing.T
	srv      *httptest.Server
	clock    *clocktest.Clock
	dir      *directory
	db       *sqldb.DB
	issuer   *authntest.Issuer
	admin    user
	doc      user // the doctor of DoctorID
	other    user // another doctor
	pat      user // a patient with a profile
	pat2     user // another patient
	DoctorID string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, sqltest.SQLite(t, sqlstore.Migrations()))
}

func newEnvOn(t *testing.T, db *sqldb.DB) *env {
	t.Helper()
	c := clocktest.New(time.Date(2030, 1, 14, 8, 0, 0, 0, time.UTC))
	dir := &directory{doctors: map[string]service.Doctor{}, patients: map[string]service.Patient{}}
	svc := service.New(sqlstore.New(db), doctorsPort{dir}, patientsPort{dir}, c, ids.New,
		service.Options{CancelNotice: service.DefaultCancelNotice})
	iss := authntest.NewIssuer(t)
	r := httpmw.NewRouter()
	transport.Register(r, endpoint.New(svc), iss.Verifier(), nil)
	// Every exchange of the tests is held to the OpenAPI document.
	h := openapitest.Load(t, transport.OpenAPI()).Handler(t, httpmw.Stack(r, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, clock: c, dir: dir, db: db, issuer: iss}
	tok := func(roles ...string) user {
		id := ids.New()
		return user{ID: id, Token: iss.Token(t, authntest.Claims{UserID: id, Roles: roles})}
	}
	e.admin, e.doc, e.other = tok(authn.RoleAdmin), tok(authn.RoleDoctor), tok(authn.RoleDoctor)
	e.pat, e.pat2 = tok(authn.RolePatient), tok(authn.RolePatient)
	e.DoctorID = ids.New()
	dir.doctors[e.DoctorID] = service.Doctor{ID: e.DoctorID, UserID: e.doc.ID, Name: "Ada Lovelace", TimeZone: "UTC", Active: true}
	otherDoctor := ids.New()
	dir.doctors[otherDoctor] = service.Doctor{ID: otherDoctor, UserID: e.other.ID, Name: "Bo Other", TimeZone: "UTC", Active: true}
	for _, u := range []*user{&e.pat, &e.pat2} {
		u.PatientID = ids.New()
		dir.patients[u.PatientID] = service.Patient{ID: u.PatientID, UserID: u.ID, Active: true}
	}
	return e
}

type response = apitest.Response

func (e *env) do(method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	req := apitest.NewRequest(e.t, method, e.srv.URL+path, body, append(apitest.Bearer(token), headers...)...)
	return apitest.Do(e.t, e.srv.Client(), req)
}

func (e *env) mustDo(status int, method, path, token string, body any, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, token, body, headers...)
	require.Equal(e.t, status, r.Status, "%s %s: %s", method, path, r.Body)
	return r
}

// slot is the 30-minute slot starting h:m on day d of the test month (UTC).
func slot(d, h, m int) (string, string) {
	s := time.Date(2030, 1, d, h, m, 0, 0, time.UTC)
	return s.Format(time.RFC3339), s.Add(30 * time.Minute).Format(time.RFC3339)
}

func (e *env) booking(d, h, m int, extra map[string]any) map[string]any {
	s, en := slot(d, h, m)
	b := map[string]any{"doctorId": e.DoctorID, "start": s, "end": en, "reason": "Checkup"}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func (e *env) count(table string) int {
	var n int
	require.NoError(e.t, e.db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}
