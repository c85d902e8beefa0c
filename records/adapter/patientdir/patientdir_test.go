package patientdir_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/endpoint"
	"github.com/medisync/medisync/patient/patient"
	patientsvc "github.com/medisync/medisync/patient/service"
	patienthttp "github.com/medisync/medisync/patient/transport"
	"github.com/medisync/medisync/records/adapter/patientdir"
	"github.com/medisync/medisync/records/record"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clock"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// directory is the real patient service's HTTP handler over SQLite, behind
// a front that counts the requests reaching it and can be told to answer
// otherwise, as a proxy or a stuck instance would.
type directory struct {
	t      *testing.T
	db     *sqldb.DB
	issuer *authntest.Issuer
	srv    *httptest.Server
	hits   atomic.Int64
	front  atomic.Value // func(http.ResponseWriter, *http.Request) bool: true when it answered
}

func newDirectory(t *testing.T) *directory {
	t.Helper()
	d := &directory{t: t, db: sqltest.SQLite(t, sqlstore.Migrations()), issuer: authntest.NewIssuer(t)}
	store := sqlstore.New(d.db)
	rec := auditlog.New[patient.AuditEvent](store, auditlog.Options{})
	t.Cleanup(func() { _ = rec.Close(context.Background()); _ = store.Close() })
	svc := patientsvc.New(patientsvc.Deps{Patients: store, History: store, Audit: store, Recorder: rec, Clock: clock.System{}})
	r := httpmw.NewRouter()
	patienthttp.Register(r, endpoint.New(svc), d.issuer.Verifier())
	h := httpmw.Stack(r, httpmw.Options{MaxBodyBytes: patienthttp.MaxBodyBytes})
	d.front.Store(func(http.ResponseWriter, *http.Request) bool { return false })
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.hits.Add(1)
		if d.front.Load().(func(http.ResponseWriter, *http.Request) bool)(w, r) {
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(d.srv.Close)
	return d
}

// token signs a token for a new user with roles.
func (d *directory) token(roles ...string) (userID, token string) {
	d.t.Helper()
	userID = ids.New()
	tok, err := d.issuer.Sign(authntest.Claims{UserID: userID, Roles: roles})
	if err != nil {
		d.t.Fatal(err)
	}
	return userID, tok
}

// profile creates a patient's own profile and returns its id.
func (d *directory) profile(token string) string {
	d.t.Helper()
	body := `{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10","sex":"female","email":"ada@example.org","phone":"+441234567890"}`
	req, _ := http.NewRequest(http.MethodPost, d.srv.URL+"/api/v1/patients", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		d.t.Fatalf("create profile: status %d", res.StatusCode)
	}
	loc := res.Header.Get("Location")
	return loc[strings.LastIndex(loc, "/")+1:]
}

func (d *directory) client(size int, timeout time.Duration) *patientdir.Client {
	return patientdir.New(d.srv.URL, &http.Client{Timeout: timeout}, size, time.Minute)
}

func as(token string) context.Context { return authn.WithToken(context.Background(), token) }

func unavailable(err error) bool {
	return domainerr.KindOf(err) == domainerr.Unavailable && errors.Is(err, patientdir.ErrUnavailable)
}

func TestFindsPatientsWithTheCallersToken(t *testing.T) {
	d := newDirectory(t)
	aliceUser, alice := d.token(authn.RolePatient)
	_, bob := d.token(authn.RolePatient)
	_, doctor := d.token(authn.RoleDoctor)
	aliceID := d.profile(alice)
	bobID := d.profile(bob)
	c := d.client(100, 5*time.Second)

	// The patient finds her own profile, owned by her.
	p, err := c.Patient(as(alice), aliceID)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != aliceID || p.UserID != strings.ToLower(aliceUser) || !p.Active {
		t.Fatalf("Patient = %+v", p)
	}
	// A doctor finds a patient.
	if p, err := c.Patient(as(doctor), bobID); err != nil || p.ID != bobID {
		t.Fatalf("doctor: %+v, %v", p, err)
	}
	// Unknown ids are not found.
	if _, err := c.Patient(as(doctor), ids.New()); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("unknown patient: %v, want ErrNotFound", err)
	}
}

func TestAnotherPatientIsNotFound(t *testing.T) {
	d := newDirectory(t)
	_, alice := d.token(authn.RolePatient)
	_, bob := d.token(authn.RolePatient)
	d.profile(alice)
	bobID := d.profile(bob)
	// The patient service answers 404 to Alice about Bob, as for no one.
	if _, err := d.client(100, 5*time.Second).Patient(as(alice), bobID); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("Patient = %v, want ErrNotFound", err)
	}
}

func TestForbiddenIsNotFound(t *testing.T) {
	d := newDirectory(t)
	_, doctor := d.token(authn.RoleDoctor)
	_, alice := d.token(authn.RolePatient)
	id := d.profile(alice)
	d.front.Store(func(w http.ResponseWriter, _ *http.Request) bool {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"title":"Forbidden","status":403}`))
		return true
	})
	if _, err := d.client(100, 5*time.Second).Patient(as(doctor), id); !errors.Is(err, record.ErrNotFound) {
		t.Fatalf("Patient = %v, want ErrNotFound", err)
	}
}

func TestFaultsAreUnavailable(t *testing.T) {
	d := newDirectory(t)
	_, doctor := d.token(authn.RoleDoctor)
	_, alice := d.token(authn.RolePatient)
	id := d.profile(alice)

	t.Run("no token reaches the patient service", func(t *testing.T) {
		// 401: the two services disagree on the token; nothing the caller can fix.
		if _, err := d.client(100, 5*time.Second).Patient(context.Background(), id); !unavailable(err) {
			t.Fatalf("Patient = %v, want unavailable", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		d.front.Store(func(http.ResponseWriter, *http.Request) bool { <-release; return true })
		defer d.front.Store(func(http.ResponseWriter, *http.Request) bool { return false })
		if _, err := d.client(100, 200*time.Millisecond).Patient(as(doctor), id); !unavailable(err) {
			t.Fatalf("Patient = %v, want unavailable", err)
		}
	})
	t.Run("the patient database is down", func(t *testing.T) {
		other := newDirectory(t)
		_, doc := other.token(authn.RoleDoctor)
		_, pat := other.token(authn.RolePatient)
		pid := other.profile(pat)
		_ = other.db.Close()
		if _, err := other.client(100, 5*time.Second).Patient(as(doc), pid); !unavailable(err) {
			t.Fatalf("Patient = %v, want unavailable", err)
		}
	})
	t.Run("no patient service", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		c := patientdir.New(gone.URL, &http.Client{Timeout: time.Second}, 100, time.Minute)
		_, err := c.Patient(as(doctor), id)
		if !unavailable(err) {
			t.Fatalf("Patient = %v, want unavailable", err)
		}
		// Named as every peer call that got no answer is, by its method,
		// peer and path, never by its URL (a query string is never logged).
		if want := "GET patient /api/v1/patients/" + id + ": "; !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), gone.URL) {
			t.Fatalf("Patient = %v, want the call named %q", err, want)
		}
	})
}

func TestCache(t *testing.T) {
	d := newDirectory(t)
	_, doctor := d.token(authn.RoleDoctor)
	_, alice := d.token(authn.RolePatient)
	_, bob := d.token(authn.RolePatient)
	aliceID, bobID := d.profile(alice), d.profile(bob)
	c := d.client(1, 5*time.Second)

	d.hits.Store(0)
	if _, err := c.Patient(as(doctor), aliceID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patient(as(doctor), aliceID); err != nil {
		t.Fatal(err)
	}
	if n := d.hits.Load(); n != 1 {
		t.Fatalf("%d requests for one patient asked twice, want 1 (cached)", n)
	}

	// A found patient is answered from the cache while the service fails.
	d.front.Store(func(w http.ResponseWriter, _ *http.Request) bool {
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	if p, err := c.Patient(as(doctor), aliceID); err != nil || p.ID != aliceID {
		t.Fatalf("cached patient during a fault: %+v, %v", p, err)
	}
	d.front.Store(func(http.ResponseWriter, *http.Request) bool { return false })

	// Not found is not cached: the profile may be created next.
	missing := ids.New()
	d.hits.Store(0)
	for range 2 {
		if _, err := c.Patient(as(doctor), missing); !errors.Is(err, record.ErrNotFound) {
			t.Fatalf("missing patient: %v", err)
		}
	}
	if n := d.hits.Load(); n != 2 {
		t.Fatalf("%d requests for a missing patient asked twice, want 2", n)
	}

	// The cache is bounded: with room for one, a second patient evicts the first.
	d.hits.Store(0)
	if _, err := c.Patient(as(doctor), bobID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patient(as(doctor), aliceID); err != nil {
		t.Fatal(err)
	}
	if n := d.hits.Load(); n != 2 {
		t.Fatalf("%d requests after an eviction, want 2", n)
	}
}
