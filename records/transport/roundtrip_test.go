package transport_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/ids"
)

// encounterBody opens an encounter of "doctor" with the harness's patient,
// for their appointment, with every part of the note written.
const encounterBody = `{"appointmentId":"0190a0a0-0000-7000-8000-00000000a001","note":{"subjective":"cough","objective":"ok","assessment":"URTI","plan":"rest"},"diagnoses":[{"code":"J06.9","codeSystem":"http://hl7.org/fhir/sid/icd-10","display":"URTI"}],"prescriptions":[{"medication":"Paracetamol","code":"123","codeSystem":"http://snomed.info/sct","dosage":"500 mg","instructions":"twice"}]}`

// with returns the JSON object doc with field set to the raw JSON value.
func with(doc, field, value string) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		panic(err)
	}
	m[field] = json.RawMessage(value)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// fields lists the fields a problem names.
func fields(t *testing.T, r resp) []string {
	t.Helper()
	var p struct{ Errors []struct{ Field string } }
	require.NoError(t, json.Unmarshal(r.body, &p), string(r.body))
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// TestEncounterRoundTrip checks that what GET gives of an encounter, with
// the note changed, is a valid PUT, and that a read-only field sent with
// another value is a 400 naming it that changes nothing.
func TestEncounterRoundTrip(t *testing.T) {
	h := newHarness(t, 1<<20)
	r := h.do("doctor", "POST", "/encounters", strings.NewReader(encounterBody), "Content-Type", "application/json")
	require.Equal(t, 201, r.code, string(r.body))
	id := r.json(t)["id"].(string)
	g := h.do("doctor", "GET", "/encounters/"+id, nil)
	require.Equal(t, 200, g.code, string(g.body))
	body := strings.Replace(string(g.body), `"cough"`, `"dry cough"`, 1)
	u := h.do("doctor", "PUT", "/encounters/"+id, strings.NewReader(body), "Content-Type", "application/json", "If-Match", g.h.Get("ETag"))
	if u.code != 200 {
		t.Fatalf("PUT of the GET representation with one field changed: %d %s", u.code, u.body)
	}
	got := u.json(t)
	assert.Equal(t, "dry cough", got["note"].(map[string]any)["subjective"])
	assert.Equal(t, "0190a0a0-0000-7000-8000-00000000a001", got["appointmentId"])
	assert.Equal(t, float64(2), got["version"])

	read := func() (string, string) {
		t.Helper()
		r := h.do("doctor", "GET", "/encounters/"+id, nil)
		require.Equal(t, 200, r.code, string(r.body))
		return string(r.body), r.h.Get("ETag")
	}
	t.Run("sent back as read, in upper case ids", func(t *testing.T) {
		body, etag := read()
		body = with(body, "id", `"`+strings.ToUpper(id)+`"`)
		body = with(body, "doctorId", `"`+strings.ToUpper(h.uids["doctor"])+`"`)
		r := h.do("doctor", "PUT", "/encounters/"+id, strings.NewReader(body), "Content-Type", "application/json", "If-Match", etag)
		require.Equal(t, 200, r.code, string(r.body))
	})

	body, etag := read()
	addendum := `[{"id":"` + ids.New() + `","encounterId":"` + id + `","authorId":"` + h.uids["doctor"] + `","text":"later","createdAt":"2020-01-01T00:00:00Z"}]`
	for field, value := range map[string]string{
		"id":                   `"` + ids.New() + `"`,
		"patientId":            `"` + h.other + `"`,
		"doctorId":             `"` + h.uids["doctor2"] + `"`,
		"status":               `"signed"`,
		"createdAt":            `"2020-01-01T00:00:00Z"`,
		"updatedAt":            `"2020-01-01T00:00:00Z"`,
		"signedAt":             `"2020-01-01T00:00:00Z"`,
		"enteredInErrorReason": `"wrong patient"`,
		"addenda":              addendum,
		"version":              `1`,
	} {
		r := h.do("doctor", "PUT", "/encounters/"+id, strings.NewReader(with(with(body, "note", `{"plan":"changed"}`), field, value)),
			"Content-Type", "application/json", "If-Match", etag)
		require.Equal(t, 400, r.code, "%s: %s", field, r.body)
		assert.Equal(t, []string{field}, fields(t, r), field)
	}
	after, etagAfter := read()
	assert.Equal(t, etag, etagAfter, "no refused PUT changed the encounter")
	assert.JSONEq(t, body, after)
}
