package transport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/adapter/sqlstore"
	"github.com/medisync/medisync/appointment/endpoint"
	"github.com/medisync/medisync/appointment/service"
	"github.com/medisync/medisync/appointment/transport"
	"github.com/medisync/medisync/shared/domainerr"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/openapitest"
)

// A patient's refused status change is on the trail whatever If-Match they
// send: ADR 0003 checks the caller's rights (and records the refusal)
// before the version, as the README promises "a patient's refused status
// change" on the trail.
func TestPatientStatusRefusalWithStaleIfMatchIsAudited(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/appointments"
	id := e.mustDo(201, "POST", base, e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)["id"].(string)

	for _, tag := range []string{`"7"`, `W/"1"`} {
		r := e.do("POST", base+"/"+id+"/status", e.pat.Token, map[string]any{"status": "noshow"}, "If-Match", tag)
		assert.Equal(t, 409, r.Status, "If-Match %s: the patient may not change the status at all: %s", tag, r.Body)
	}
	assert.Equal(t, []step{
		{e.pat.ID, "PATIENT", "change-status", "appointment", id, "denied"},
		{e.pat.ID, "PATIENT", "change-status", "appointment", id, "denied"},
		{e.pat.ID, "PATIENT", "book", "appointment", id, "allowed"},
	}, e.trail(e.pat), "each refused status change is on the trail")
}

// The offer of a freed slot names no one on the waiting patient's trail:
// not even through the request ID, which the canceller chooses.
func TestOfferDoesNotCarryTheCancellersRequestID(t *testing.T) {
	e := newEnv(t)
	base := "/api/v1/appointments"
	e.mustDo(201, "POST", base+"/waitlist", e.pat.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
	id := e.mustDo(201, "POST", base, e.pat2.Token, e.booking(15, 11, 0, nil)).JSON(t)["id"].(string)
	e.mustDo(200, "POST", base+"/"+id+"/cancel", e.pat2.Token, map[string]any{}, "X-Request-ID", "cancelled-by-Bob-Jones-"+e.pat2.PatientID)

	r := e.mustDo(200, "GET", base+"/audit?patientId="+e.pat.PatientID, e.pat.Token, nil)
	items := r.JSON(t)["items"].([]any)
	require.NotEmpty(t, items)
	offer := items[0].(map[string]any)
	require.Equal(t, "offer", offer["action"])
	assert.NotContains(t, fmt.Sprint(offer["requestId"]), "Bob-Jones", "the waiting patient's trail carries the canceller's own words")
	assert.NotContains(t, fmt.Sprint(offer["requestId"]), e.pat2.PatientID, "and the canceller's patient id")
}

// downPatients is a patient service that cannot answer.
type downPatients struct{}

func (downPatients) Me(context.Context) (service.Patient, error) {
	return service.Patient{}, fmt.Errorf("look: %w", domainerr.New(domainerr.Unavailable, "the patient service cannot answer now"))
}
func (downPatients) Get(context.Context, string) (service.Patient, error) {
	return service.Patient{}, errors.New("unused")
}

// The patient's own trail asks the patient service who they are: down, the
// answer is a 503 with Retry-After, never the trail.
func TestTrailFailsClosedWhenThePatientServiceIsDown(t *testing.T) {
	e := newEnv(t)
	svc := service.New(sqlstore.New(e.db), doctorsPort{e.dir}, downPatients{}, e.clock, ids.New, service.Options{})
	r := httpmw.NewRouter()
	transport.Register(r, endpoint.New(svc), e.issuer.Verifier(), nil)
	srv := httptest.NewServer(openapitest.Load(t, transport.OpenAPI()).Handler(t, httpmw.Stack(r, httpmw.Options{MaxBodyBytes: transport.MaxBodyBytes})))
	t.Cleanup(srv.Close)
	e.srv = srv
	res := e.do("GET", "/api/v1/appointments/audit?patientId="+e.pat.PatientID, e.pat.Token, nil)
	assert.Equal(t, 503, res.Status, "%s", res.Body)
	assert.NotEmpty(t, res.Header.Get("Retry-After"))
}
