package transport_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/appointment/endpoint"
	"github.com/medisync/medisync/appointment/transport"
	"github.com/medisync/medisync/shared/app"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
	"github.com/medisync/medisync/shared/broker/dlqhttp"
	"github.com/medisync/medisync/shared/ids"
	"github.com/medisync/medisync/shared/openapitest"
)

// TestOpenAPIRoutes holds the router, as main builds it (Register and the
// broker's dead-letter routes, docs/adr/0025), to the document: no route
// undocumented, no documented route missing.
func TestOpenAPIRoutes(t *testing.T) {
	a, err := app.New(context.Background(), app.Options{Name: "appointment"}, nil, func(string) (string, bool) { return "", false }, io.Discard)
	require.NoError(t, err)
	r := a.Router()
	transport.Register(r, endpoint.Set{}, nil, nil)
	dlqhttp.Register(r, "/api/v1/appointments/admin", nil, nil)
	openapitest.Load(t, transport.OpenAPI()).CheckRoutes(t, r)
}

func TestOpenAPIServedWithoutToken(t *testing.T) {
	e := newEnv(t)
	r := e.mustDo(200, "GET", "/openapi.yaml", "", nil)
	require.Equal(t, transport.OpenAPI(), r.Body)
	assert.Equal(t, "application/yaml", r.Header.Get("Content-Type"))
}

// TestEdgesAgreeWithTheDocument drives the answers the other tests leave
// out, each held to the document by the test server: problems of every
// route, and the taken times the doctor service reads.
func TestEdgesAgreeWithTheDocument(t *testing.T) {
	e := newEnv(t)
	id := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)["id"].(string)
	base := "/api/v1/appointments"

	// Taken times.
	{
		q := "?doctorId=" + e.DoctorID + "&from=2030-01-15T00:00:00Z&to=2030-01-16T00:00:00Z"
		r := e.mustDo(200, "GET", base+"/taken"+q, e.doc.Token, nil).JSON(t)
		assert.Equal(t, e.DoctorID, r["doctorId"])
		assert.Empty(t, e.mustDo(200, "GET", base+"/taken?doctorId="+e.DoctorID+
			"&from=2030-02-01T00:00:00Z&to=2030-02-02T00:00:00Z", e.pat.Token, nil).JSON(t)["taken"], "an empty list, not null")
		assert.ElementsMatch(t, []string{"doctorId", "from", "to"}, e.mustDo(400, "GET", base+"/taken", e.pat.Token, nil).Fields(t))
		assert.Equal(t, []string{"to"}, e.mustDo(400, "GET", base+"/taken?doctorId="+e.DoctorID+
			"&from=2030-01-01T00:00:00Z&to=2030-03-01T00:00:00Z", e.pat.Token, nil).Fields(t))
		assert.Equal(t, []string{"to"}, e.mustDo(400, "GET", base+"/taken?doctorId="+e.DoctorID+
			"&from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z", e.pat.Token, nil).Fields(t))
		e.mustDo(401, "GET", base+"/taken"+q, "", nil)
	}

	// Bad parameters name the field.
	{
		assert.Equal(t, []string{"id"}, e.mustDo(400, "GET", base+"/not-a-uuid", e.pat.Token, nil).Fields(t))
		assert.Equal(t, []string{"days"}, e.mustDo(400, "GET", base+"?days=2", e.pat.Token, nil).Fields(t))
		assert.Equal(t, []string{"days"}, e.mustDo(400, "GET", base+"?date=2030-01-15&days=x", e.doc.Token, nil).Fields(t))
		assert.Equal(t, []string{"date"}, e.mustDo(400, "GET", base+"?date=15.01.2030", e.doc.Token, nil).Fields(t))
		assert.Equal(t, []string{"status"}, e.mustDo(400, "GET", base+"?status=booked,gone", e.admin.Token, nil).Fields(t))
		assert.Equal(t, []string{"doctorId"}, e.mustDo(400, "GET", base+"?doctorId=x", e.admin.Token, nil).Fields(t))
		assert.Equal(t, []string{"id"}, e.mustDo(400, "DELETE", base+"/waitlist/x", e.pat.Token, nil).Fields(t))
		assert.Equal(t, []string{"status"}, e.mustDo(400, "POST", base+"/"+id+"/status", e.doc.Token,
			map[string]any{"status": "cancelled"}).Fields(t), "cancelling takes a reason")
		assert.Equal(t, []string{"If-Match"}, e.mustDo(400, "POST", base+"/"+id+"/cancel", e.pat.Token,
			map[string]any{}, "If-Match", `"one"`).Fields(t))
		assert.Equal(t, []string{"cancellationReason"}, e.mustDo(400, "POST", base+"/"+id+"/cancel", e.doc.Token,
			map[string]any{}).Fields(t), "staff give a reason")
	}

	// Bodies.
	{
		e.mustDo(415, "POST", base, e.pat.Token, "{}", "Content-Type", "text/plain")
		e.mustDo(400, "POST", base+"/"+id+"/reschedule", e.pat.Token, "[]")
		e.mustDo(413, "POST", base+"/waitlist", e.pat.Token, `{"date":"`+strings.Repeat("x", transport.MaxBodyBytes)+`"}`)
	}

	// Who may.
	{
		noDoctorProfile := e.issuer.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{authn.RoleDoctor}})
		e.mustDo(403, "GET", base+"?date=2030-01-15", noDoctorProfile, nil)
		noPatientProfile := e.issuer.Token(t, authntest.Claims{UserID: ids.New(), Roles: []string{authn.RolePatient}})
		e.mustDo(403, "POST", base, noPatientProfile, e.booking(15, 11, 0, nil))
		e.mustDo(403, "POST", base+"/waitlist", e.admin.Token, map[string]any{"doctorId": e.DoctorID, "date": "2030-01-15"})
		e.mustDo(404, "POST", base+"/"+id+"/reschedule", e.pat2.Token, map[string]any{"start": "2030-01-16T10:00:00Z", "end": "2030-01-16T10:30:00Z"})
		e.mustDo(404, "POST", base+"/"+id+"/cancel", e.other.Token, map[string]any{"cancellationReason": "clinic"})
		for _, rt := range [][2]string{{"GET", base}, {"GET", base + "/" + id}, {"POST", base + "/" + id + "/cancel"},
			{"POST", base + "/" + id + "/status"}, {"POST", base + "/" + id + "/reschedule"}, {"GET", base + "/waitlist"},
			{"POST", base + "/waitlist"}, {"DELETE", base + "/waitlist/" + ids.New()}} {
			r := e.mustDo(401, rt[0], rt[1], "", nil)
			assert.NotEmpty(t, r.Header.Get("WWW-Authenticate"), "%s %s", rt[0], rt[1])
		}
	}

	// No such path or method.
	{
		e.mustDo(404, "GET", base+"/"+id+"/history", e.pat.Token, nil)
		e.mustDo(405, "PUT", base+"/"+id, e.pat.Token, map[string]any{})
	}

	// A peer down is 503 with Retry-After.
	{
		setDown := func(down bool) { e.dir.mu.Lock(); e.dir.down = down; e.dir.mu.Unlock() }
		setDown(true)
		r := e.do("POST", base+"/"+id+"/reschedule", e.pat.Token,
			map[string]any{"start": "2030-01-16T10:00:00Z", "end": "2030-01-16T10:30:00Z"})
		setDown(false)
		assert.Equal(t, 503, r.Status, "%s", r.Body)
		assert.NotEmpty(t, r.Header.Get("Retry-After"))
	}

	// A replayed booking says so.
	{
		key := []string{"Idempotency-Key", "edge-1"}
		e.mustDo(201, "POST", base, e.pat2.Token, e.booking(15, 12, 0, nil), key...)
		r := e.mustDo(201, "POST", base, e.pat2.Token, e.booking(15, 12, 0, nil), key...)
		assert.Equal(t, "true", r.Header.Get("Idempotent-Replayed"))
		assert.Equal(t, "application/problem+json",
			e.mustDo(422, "POST", base, e.pat2.Token, e.booking(15, 13, 0, nil), key...).Header.Get("Content-Type"))
	}
}
