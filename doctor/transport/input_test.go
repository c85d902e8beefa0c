package transport_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/medisync/medisync/doctor/transport"
)

func TestBadInputIsA400NamingTheField(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, nil)
	path := "/api/v1/doctors/" + d["id"].(string)
	avail := path + "/availability"
	weekly := func(ws ...[3]string) map[string]any {
		var out []map[string]string
		for _, w := range ws {
			out = append(out, map[string]string{"day": w[0], "start": w[1], "end": w[2]})
		}
		return map[string]any{"slotMinutes": 30, "weekly": out}
	}
	cases := []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"overlapping intervals", "PUT", avail, weekly([3]string{"MONDAY", "09:00", "12:00"}, [3]string{"MONDAY", "11:00", "13:00"}), "weekly[1]"},
		{"end before start", "PUT", avail, weekly([3]string{"MONDAY", "12:00", "09:00"}), "weekly[0].end"},
		{"25:00", "PUT", avail, weekly([3]string{"MONDAY", "25:00", "26:00"}), "weekly[0].start"},
		{"unknown weekday", "PUT", avail, weekly([3]string{"MOONDAY", "09:00", "10:00"}), "weekly[0].day"},
		{"slot length 0", "PUT", avail, map[string]any{"slotMinutes": 0}, "slotMinutes"},
		{"slot length 10000", "PUT", avail, map[string]any{"slotMinutes": 10000}, "slotMinutes"},
		{"slot length not a number", "PUT", avail, `{"slotMinutes": "thirty"}`, "slotMinutes"},
		{"negative buffer", "PUT", avail, map[string]any{"bufferMinutes": -1}, "bufferMinutes"},
		{"exception date", "PUT", avail, map[string]any{"exceptions": []map[string]any{{"date": "2027-02-30", "available": false}}}, "exceptions[0].date"},
		{"unknown field in availability", "PUT", avail, `{"slotMinutes": 30, "weeklyHours": []}`, "weeklyHours"},
		{"unknown time zone", "POST", "/api/v1/doctors", doctorBody(map[string]any{"timeZone": "Mars/Olympus"}), "timeZone"},
		{"Local time zone", "POST", "/api/v1/doctors", doctorBody(map[string]any{"timeZone": "Local"}), "timeZone"},
		// The host's zoneinfo files that are no zone of the database: the
		// host's own zone under another name, and copies of real ones.
		{"host zone localtime", "POST", "/api/v1/doctors", doctorBody(map[string]any{"timeZone": "localtime"}), "timeZone"},
		{"host zone posixrules", "POST", "/api/v1/doctors", doctorBody(map[string]any{"timeZone": "posixrules"}), "timeZone"},
		{"leap-second copy of a zone", "POST", "/api/v1/doctors", doctorBody(map[string]any{"timeZone": "right/Europe/Berlin"}), "timeZone"},
		{"missing name", "POST", "/api/v1/doctors", doctorBody(map[string]any{"lastName": nil}), "lastName"},
		{"bad email", "POST", "/api/v1/doctors", doctorBody(map[string]any{"email": "nope"}), "email"},
		{"bad phone", "POST", "/api/v1/doctors", doctorBody(map[string]any{"phone": "12"}), "phone"},
		{"appointment length", "POST", "/api/v1/doctors", doctorBody(map[string]any{"appointmentMinutes": 10000}), "appointmentMinutes"},
		{"bad specialization UUID", "POST", "/api/v1/doctors", doctorBody(map[string]any{"specializationIds": []string{"x"}}), "specializationIds[0]"},
		{"unknown specialization", "POST", "/api/v1/doctors", doctorBody(map[string]any{"specializationIds": []string{"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}}), "specializationIds[0]"},
		{"bad userId", "POST", "/api/v1/doctors", doctorBody(map[string]any{"userId": "me"}), "userId"},
		{"unknown field in a doctor", "POST", "/api/v1/doctors", doctorBody(map[string]any{"nickname": "Ada"}), "nickname"},
		{"wrong type", "POST", "/api/v1/doctors", doctorBody(map[string]any{"languages": "en"}), "languages"},
		{"bad UUID in the path", "GET", "/api/v1/doctors/not-a-uuid", nil, "id"},
		{"bad UUID in availability path", "PUT", "/api/v1/doctors/123/availability", map[string]any{}, "id"},
		{"bad UUID in slots path", "GET", "/api/v1/doctors/123/slots?from=2026-02-01&to=2026-02-02", nil, "id"},
		{"bad specialization UUID in a search", "GET", "/api/v1/doctors?specialization=cardio", nil, "specialization"},
		{"bad date in a search", "GET", "/api/v1/doctors?availableOn=tomorrow", nil, "availableOn"},
		{"bad language in a search", "GET", "/api/v1/doctors?language=!!", nil, "language"},
		{"bad limit", "GET", "/api/v1/doctors?limit=1000", nil, "limit"},
		{"bad cursor", "GET", "/api/v1/doctors?cursor=garbage", nil, "cursor"},
		{"bad specialization cursor", "GET", "/api/v1/specializations?cursor=garbage", nil, "cursor"},
		{"slot range of 400 days", "GET", path + "/slots?from=2026-02-01&to=2027-03-07", nil, "to"},
		{"slot range of 32 days", "GET", path + "/slots?from=2026-02-01&to=2026-03-04", nil, "to"},
		{"from after to", "GET", path + "/slots?from=2026-02-10&to=2026-02-01", nil, "from"},
		{"missing from", "GET", path + "/slots?to=2026-02-01", nil, "from"},
		{"bad to", "GET", path + "/slots?from=2026-02-01&to=2026-02-30", nil, "to"},
		// A parameter of one value sent twice or with no value, which would
		// be read as its first value or as absent.
		{"from sent twice", "GET", path + "/slots?from=2026-02-01&from=2026-02-20&to=2026-02-02", nil, "from"},
		{"availableOn sent empty", "GET", "/api/v1/doctors?q=&availableOn=", nil, "availableOn"},
		{"specialization sent twice", "GET", "/api/v1/doctors?specialization=0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b&specialization=cardio", nil, "specialization"},
		{"limit sent empty", "GET", "/api/v1/specializations?limit=", nil, "limit"},
		{"slot check start sent twice", "GET", path + "/slot-check?start=2026-03-02T08:30:00Z&start=soon&end=2026-03-02T09:00:00Z", nil, "start"},
		{"strandBookings sent empty", "DELETE", path + "?strandBookings=", nil, "strandBookings"},
		{"empty specialization name", "POST", "/api/v1/specializations", map[string]any{"name": " "}, "name"},
		{"bad specialization id", "PUT", "/api/v1/specializations/zzz", map[string]any{"name": "X"}, "id"},
		{"bad If-Match", "PUT", path, doctorBody(map[string]any{"licenseNumber": nil}), "If-Match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var headers []string
			switch {
			case c.field == "If-Match":
				headers = []string{"If-Match", `"abc"`}
			case c.method == "PUT" && c.path == avail:
				headers = []string{"If-Match", e.etag(c.path)}
			case c.method == "PUT":
				headers = []string{"If-Match", `"1"`}
			}
			r := e.mustDo(400, c.method, c.path, e.admin.Token, c.body, headers...)
			assert.Contains(t, r.Fields(t), c.field, "%s", r.Body)
			p := r.JSON(t)
			assert.Equal(t, float64(400), p["status"])
			assert.NotEmpty(t, p["requestId"])
			assert.NotContains(t, string(r.Body), "sql")
		})
	}

	t.Run("malformed JSON", func(t *testing.T) {
		for _, body := range []string{`{"slotMinutes": 30`, `{"slotMinutes": 30}{}`, `[1,2]`, `not json`} {
			r := e.mustDo(400, "PUT", avail, e.admin.Token, body, "If-Match", e.etag(avail))
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), body)
		}
		r := e.mustDo(400, "POST", "/api/v1/doctors", e.admin.Token, `{"firstName": }`)
		assert.Contains(t, string(r.Body), "malformed JSON")
	})
	t.Run("an overlong body", func(t *testing.T) {
		big := `{"bio": "` + strings.Repeat("x", transport.MaxBodyBytes) + `"}`
		e.mustDo(413, "POST", "/api/v1/doctors", e.admin.Token, big)
	})

	// Nothing was stored by the refused requests.
	got := e.mustDo(200, "GET", avail, e.admin.Token, nil).JSON(t)
	assert.Equal(t, float64(1), got["version"])
	assert.Empty(t, got["weekly"])
}

// A search form or a pager that sends what it has, empty on the first
// page or with an empty box: ?q=, ?language= and ?cursor= are no filter
// and the first page, as the document's strings without minLength let
// them be.
func TestEmptySearchTextAndCursorAreAbsent(t *testing.T) {
	e := newEnv(t)
	e.mustDo(200, "GET", "/api/v1/doctors?limit=5&cursor=", e.pat.Token, nil)
	e.mustDo(200, "GET", "/api/v1/specializations?limit=5&cursor=", e.pat.Token, nil)
	e.mustDo(200, "GET", "/api/v1/doctors?q=&language=&limit=5", e.pat.Token, nil)
}

// A doctor read and written back with a malformed createdAt is a 400
// naming createdAt, as architecture.md ("Bodies") promises.
func TestRoundTripWithBadInstantNamesTheField(t *testing.T) {
	e := newEnv(t)
	d := e.createOwn(e.doctor, nil)
	path := "/api/v1/doctors/" + d["id"].(string)
	d["createdAt"] = "yesterday"
	b, _ := json.Marshal(d)
	r := e.do("PUT", path, e.doctor.Token, string(b), "If-Match", e.etag(path))
	assert.Equal(t, 400, r.Status)
	assert.Equal(t, []string{"createdAt"}, r.Fields(t), "%s", r.Body)
}

// A query parameter whose percent-encoding is malformed is a 400 naming
// it: net/url's parsing would drop it without a word, and the request be
// answered as if the parameter were absent (a default page size, an
// unfiltered search).
func TestMalformedQueryEscapeIsRefused(t *testing.T) {
	e := newEnv(t)
	spec := e.mustDo(201, "POST", "/api/v1/specializations", e.admin.Token, map[string]any{"name": "Cardiology"}).JSON(t)
	e.createOwn(e.doctor, nil) // no specialization
	for _, q := range []string{"limit=5%zz", "specialization=" + spec["id"].(string) + "%"} {
		r := e.do("GET", "/api/v1/doctors?"+q, e.pat.Token, nil)
		if assert.Equal(t, 400, r.Status, "?%s answered %s", q, r.Body) {
			assert.NotEmpty(t, r.Fields(t))
		}
	}
}

// A malformed query on an operation without parameters is the 400 its
// document lists; the document's own route, like the health checks and the
// metrics (httpmw), reads no parameter and answers as if the query were
// absent.
func TestMalformedQueryOnOperationsWithoutParameters(t *testing.T) {
	e := newEnv(t)
	e.mustDo(400, "GET", "/api/v1/doctors/me?v=%zz", e.pat.Token, nil)
	e.mustDo(200, "GET", "/openapi.yaml?v=%zz", "", nil)
}
