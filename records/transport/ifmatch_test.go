package transport_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A change without If-Match is a 428 only after the caller's rights are
// checked (docs/adr/0003): a caller with no right to the record gets the
// 404 every other path gives them, and the attempt is on the patient's
// audit trail.
func TestChangeWithoutIfMatchChecksRightsFirst(t *testing.T) {
	h := newHarness(t, 1<<20)
	id := h.openSigned("doctor", h.patient)
	doc := h.upload("patient", h.patient, []byte("%PDF-1.7\nx"))

	cases := []struct{ who, method, path, body string }{
		{"doctor2", "POST", "/encounters/" + id + "/sign", ""},
		{"doctor2", "PUT", "/encounters/" + id, `{"note":{"plan":"x"}}`},
		{"other", "POST", "/encounters/" + id + "/entered-in-error", `{"reason":"tampering"}`},
		{"other", "POST", "/documents/" + doc + "/entered-in-error", `{"reason":"tampering"}`},
	}
	for _, c := range cases {
		var r resp
		if c.body == "" {
			r = h.do(c.who, c.method, c.path, nil)
		} else {
			r = h.do(c.who, c.method, c.path, js(json.RawMessage(c.body)), "Content-Type", "application/json")
		}
		assert.Equal(t, 404, r.code, "%s %s %s without If-Match: %s", c.who, c.method, c.path, r.body)
	}

	r := h.do("patient", "GET", "/audit?limit=100", nil)
	require.Equal(t, 200, r.code)
	var trail struct {
		Items []struct{ UserID, Outcome string }
	}
	require.NoError(t, json.Unmarshal(r.body, &trail))
	denied := 0
	for _, e := range trail.Items {
		if e.Outcome == "denied" && (e.UserID == h.uids["doctor2"] || e.UserID == h.uids["other"]) {
			denied++
		}
	}
	assert.Equal(t, len(cases), denied, "each refused attempt on the patient's records is on their audit trail")
}

// Those who may make the change get the 428 naming If-Match, without it or
// with "*", and nothing changes; a malformed If-Match is a 400 naming the
// header, as in every service.
func TestChangeWithoutIfMatchIsPreconditionRequired(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", js(openBody("")), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, "%s", r.body)
	open := r.json(t)["id"].(string)
	signed := h.openSigned("doctor", h.patient)
	doc := h.upload("patient", h.patient, []byte("%PDF-1.7\nx"))

	cases := []struct{ who, method, path, body string }{
		{"doctor", "PUT", "/encounters/" + open, `{"note":{"plan":"x"}}`},
		{"doctor", "POST", "/encounters/" + open + "/sign", ""},
		{"doctor", "POST", "/encounters/" + signed + "/entered-in-error", `{"reason":"wrong patient"}`},
		{"admin", "POST", "/encounters/" + signed + "/entered-in-error", `{"reason":"wrong patient"}`},
		{"patient", "POST", "/documents/" + doc + "/entered-in-error", `{"reason":"wrong file"}`},
		{"admin", "POST", "/documents/" + doc + "/entered-in-error", `{"reason":"wrong file"}`},
	}
	send := func(who, method, path, body string, header ...string) resp {
		if body == "" {
			return h.do(who, method, path, nil, header...)
		}
		return h.do(who, method, path, js(json.RawMessage(body)), append(header, "Content-Type", "application/json")...)
	}
	for _, c := range cases {
		for _, header := range [][]string{nil, {"If-Match", "*"}} {
			r := send(c.who, c.method, c.path, c.body, header...)
			require.Equal(t, 428, r.code, "%s %s %s %v: %s", c.who, c.method, c.path, header, r.body)
			p := r.json(t)
			assert.Equal(t, "urn:medisync:problem:precondition-required", p["type"])
			assert.Contains(t, p["detail"], "If-Match")
		}
		r := send(c.who, c.method, c.path, c.body, "If-Match", `"one"`)
		assert.Equal(t, 400, r.code, "%s %s %s with a malformed If-Match: %s", c.who, c.method, c.path, r.body)
		assert.Contains(t, string(r.body), "If-Match")
	}
	r = h.do("doctor", "GET", "/encounters/"+open, nil)
	assert.Equal(t, "open", r.json(t)["status"])
	assert.Equal(t, `"1"`, r.h.Get("ETag"))
	assert.Equal(t, "signed", h.do("doctor", "GET", "/encounters/"+signed, nil).json(t)["status"])
	assert.Equal(t, "current", h.do("patient", "GET", "/documents/"+doc, nil).json(t)["status"])
}
