package transport_test

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/patient/endpoint"
	"github.com/medisync/medisync/patient/patient"
	"github.com/medisync/medisync/patient/service"
	"github.com/medisync/medisync/patient/transport"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/auditlog"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/openapitest"
	"github.com/medisync/medisync/shared/sqldb"
)

// now is the fixed time of every test; dates are judged against it.
var now = time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)

// harness is the whole service over one database, driven through its HTTP
// handler with tokens from a test issuer.
type harness struct {
	t       testing.TB
	handler http.Handler
	issuer  *authntest.Issuer
	store   *sqlstore.Store
	care    *careTeam
}

// careTeam stands in for the records service: every doctor treats every
// patient except the strangers, and it fails while fault is set.
type careTeam struct {
	mu        sync.Mutex
	strangers map[string]bool
	fault     error
	asked     int
}

func (c *careTeam) Treating(ctx context.Context, _ string) (bool, error) {
	p, _ := authn.FromContext(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked++
	if c.fault != nil {
		return false, c.fault
	}
	return !c.strangers[p.UserID], nil
}

// failingRecorder refuses every event, to prove reads fail closed.
type failingRecorder struct{}

func (failingRecorder) Record(context.Context, patient.AuditEvent) error {
	return io.ErrClosedPipe
}

func newHarness(t testing.TB, db *sqldb.DB, recorder ...service.AuditRecorder) *harness {
	t.Helper()
	return newHarnessWith(t, db, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes}, recorder...)
}

// newHarnessWith is newHarness with the HTTP stack's options (a shorter
// request deadline, say).
func newHarnessWith(t testing.TB, db *sqldb.DB, o httpmw.Options, recorder ...service.AuditRecorder) *harness {
	t.Helper()
	store := sqlstore.New(db)
	var rec service.AuditRecorder
	if len(recorder) > 0 {
		rec = recorder[0]
	} else {
		b := auditlog.New[patient.AuditEvent](store, auditlog.Options{})
		t.Cleanup(func() { _ = b.Close(context.Background()) })
		rec = b
	}
	t.Cleanup(func() { _ = store.Close() })
	care := &careTeam{strangers: map[string]bool{}}
	svc := service.New(service.Deps{
		Patients: store, History: store, Audit: store, Recorder: rec,
		Clock: clocktest.New(now), Care: care,
	})
	iss := authntest.NewIssuer(t)
	r := httpmw.NewRouter()
	transport.Register(r, endpoint.New(svc), iss.Verifier())
	var h http.Handler = httpmw.Stack(r, o)
	switch t.(type) {
	case *testing.B, *testing.F:
		// Benchmarks measure the service alone; a fuzz target checks each
		// input by its own t, which the document's check cannot report to.
	default:
		// Every exchange of the tests is held to the OpenAPI document.
		h = openapitest.Load(t, transport.OpenAPI()).Handler(t, h)
	}
	return &harness{t: t, handler: h, issuer: iss, store: store, care: care}
}

// user is a caller with a token.
type user struct {
	id    string
	token string
}

func (h *harness) user(roles ...string) user {
	id := ids.New()
	tok, err := h.issuer.Sign(authntest.Claims{UserID: id, Roles: roles})
	require.NoError(h.t, err)
	return user{id: id, token: tok}
}

// stranger is a doctor who treats no patient.
func (h *harness) stranger() user {
	u := h.user("DOCTOR")
	h.care.mu.Lock()
	defer h.care.mu.Unlock()
	h.care.strangers[u.id] = true
	return u
}

type response = apitest.Response

// do sends a request; token "" sends none. Extra headers come in pairs.
func (h *harness) do(method, path, token, body string, headers ...string) response {
	h.t.Helper()
	var b any
	if body != "" {
		b = body
	}
	resp := apitest.Serve(h.handler, apitest.NewRequest(h.t, method, path, b, append(apitest.Bearer(token), headers...)...))
	// Every answer of this API concerns a patient: none may be cached.
	assert.Equal(h.t, "no-store", resp.Header.Get("Cache-Control"), "%s %s", method, path)
	if resp.Status >= 400 {
		assert.Equal(h.t, "application/problem+json", resp.Header.Get("Content-Type"), "%s %s: %s", method, path, resp.Body)
	}
	return resp
}

const profileJSON = `{"firstName":"Ada","lastName":"Lovelace","dateOfBirth":"1985-12-10","sex":"female",
	"email":"ada@example.org","phone":"+441234567890",
	"address":{"line1":"12 St James's Square","city":"London","postalCode":"SW1Y 4JH","country":"GB"},
	"emergencyContact":{"name":"William King","relationship":"spouse","phone":"+441234567891"},
	"preferredLanguage":"en-GB","bloodType":"O+"}`

const entryJSONBody = `{"type":"ALLERGY","description":"Penicillin allergy","code":"91936005",
	"codeSystem":"http://snomed.info/sct","status":"active","onsetDate":"2001-04-02","severity":"severe","notes":"Rash"}`

// newPatientFor creates, as that patient, the profile of u.
func (h *harness) newPatientFor(u user) string {
	h.t.Helper()
	r := h.do(http.MethodPost, "/api/v1/patients", u.token, profileJSON)
	require.Equal(h.t, http.StatusCreated, r.Status, string(r.Body))
	return r.JSON(h.t)["id"].(string)
}

// newEntry records a history entry for a patient as doc.
func (h *harness) newEntry(doc user, patientID string) string {
	h.t.Helper()
	r := h.do(http.MethodPost, "/api/v1/patients/"+patientID+"/history", doc.token, entryJSONBody)
	require.Equal(h.t, http.StatusCreated, r.Status, string(r.Body))
	return r.JSON(h.t)["id"].(string)
}

// audit returns a patient's audit events, read straight from the store.
func (h *harness) audit(patientID string) []patient.AuditEvent {
	h.t.Helper()
	page, err := h.store.ListAudit(context.Background(), patient.AuditQuery{PatientID: patientID, Limit: 100})
	require.NoError(h.t, err)
	return page.Items
}

var roles = struct{ admin, doctor, patient string }{authn.RoleAdmin, authn.RoleDoctor, authn.RolePatient}

// parallel runs fn n times at once and waits for all.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); <-start; fn(i) }()
	}
	close(start)
	wg.Wait()
}
