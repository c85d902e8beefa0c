package transport_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/civil"
	"github.com/medisync/medisync/shared/ids"
)

// refusedNaming fails t unless r is a 4xx problem whose fields, if any are
// named, are all in want; a 400 or 422 must name one.
func refusedNaming(t *testing.T, what string, r response, want ...string) {
	t.Helper()
	fields := apitest.Refused(t, what, r)
	if (r.Status == http.StatusBadRequest || r.Status == http.StatusUnprocessableEntity) && len(fields) == 0 {
		t.Fatalf("%s: %d names no field: %s", what, r.Status, r.Body)
	}
	for _, f := range fields {
		if !slices.Contains(want, f) {
			t.Fatalf("%s: %d names %q: %s", what, r.Status, f, r.Body)
		}
	}
}

// FuzzClientInputs: whatever a client sends as the list's filters, a
// waitlist entry, a new time and a new status, the answer keeps what was
// sent or is a problem naming the field; never an error of the server.
// {doctor} and {DOCTOR} in a doctor id stand for the test doctor's id.
func FuzzClientInputs(f *testing.F) {
	for _, s := range [][11]string{
		{"upcoming", "2030-01-15", "1", "booked", "10", "", "{doctor}", "2030-01-15", "2030-01-16T10:00:00Z", "2030-01-16T10:30:00Z", "arrived"},
		{"past", "", "", "booked, cancelled", "", `{"start":"2030-01-15T10:00:00Z","id":"0190a0a0-0000-7000-8000-00000000a001"}`, "{DOCTOR}", "2030-01-14", "2030-01-16T12:00:00+02:00", "2030-01-16T10:30:00Z", "fulfilled"},
		{"later", "2030-02-30", "8", "Booked", "0", `{"start":"0001-01-01T00:00:00Z","id":"x"}`, "not-a-uuid", "2030-1-15", "2030-01-16T10:00:00.5Z", "2030-01-16T10:00:00Z", "cancelled"},
		{"", "2030-01-15", "-1", ",", "101", `{"start":"9999-12-31T23:59:59-23:59","id":"0190a0a0-0000-7000-8000-00000000a001"}`, "", "", "2030-01-16t10:00:00z", "", ""},
		{"", "", "3", "", "", `null`, "{doctor}", "2031-06-01", "2029-01-16T10:00:00Z", "2030-01-16T10:00:00Z", "CHECKED-IN"},
		{"", "0000-01-01", "7", "entered-in-error", "1", `[]`, "00000000-0000-0000-0000-000000000000", "9999-12-31", "2030-01-16T10:00:00Z", "2030-01-18T10:00:00Z", "noshow"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10])
	}
	f.Fuzz(func(t *testing.T, when, date, days, status, limit, cursor, doctor, day, start, end, newStatus string) {
		e := newEnv(t)
		doctor = strings.NewReplacer("{doctor}", e.DoctorID, "{DOCTOR}", strings.ToUpper(e.DoctorID)).Replace(doctor)
		doctor, day, start, end, newStatus = apitest.JSONText(doctor), apitest.JSONText(day), apitest.JSONText(start), apitest.JSONText(end), apitest.JSONText(newStatus)
		booked := e.mustDo(201, "POST", "/api/v1/appointments", e.pat.Token, e.booking(15, 10, 0, nil)).JSON(t)
		id := booked["id"].(string)

		q := url.Values{}
		for k, v := range map[string]string{"when": when, "date": date, "days": days, "status": status, "limit": limit} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if cursor != "" {
			q.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(cursor)))
		}
		r := e.do("GET", "/api/v1/appointments?"+q.Encode(), e.pat.Token, nil)
		if r.Status == 200 {
			var l struct {
				Items []struct {
					Status string `json:"status"`
				} `json:"items"`
			}
			if err := json.Unmarshal(r.Body, &l); err != nil {
				t.Fatalf("list %s: %s", q.Encode(), r.Body)
			}
			for _, it := range l.Items {
				if status != "" && !slices.ContainsFunc(strings.Split(status, ","), func(s string) bool { return strings.TrimSpace(s) == it.Status }) {
					t.Fatalf("list %s holds a %s appointment", q.Encode(), it.Status)
				}
			}
		} else {
			refusedNaming(t, "list "+q.Encode(), r, "when", "date", "days", "status", "limit", "cursor")
		}

		// A waitlist entry is kept for the doctor and day sent, and left.
		w := map[string]any{"doctorId": doctor, "date": day}
		r = e.do("POST", "/api/v1/appointments/waitlist", e.pat.Token, w)
		if r.Status == 201 {
			got := r.JSON(t)
			canon, _ := ids.Canonical(doctor)
			d, err := civil.Parse(day)
			if got["doctorId"] != canon || err != nil || got["date"] != d.String() {
				t.Fatalf("waitlist %q on %q kept as %s", doctor, day, r.Body)
			}
			path := "/api/v1/appointments/waitlist/" + got["id"].(string)
			if g := e.do("GET", path, e.pat.Token, nil); g.Status != 200 || string(g.Body) != string(r.Body) {
				t.Fatalf("waitlist %q on %q read back %d %s, kept %s", doctor, day, g.Status, g.Body, r.Body)
			}
			e.mustDo(204, "DELETE", path, e.pat.Token, nil)
			e.mustDo(404, "GET", path, e.pat.Token, nil)
		} else {
			refusedNaming(t, "waitlist "+strconv.Quote(doctor)+" on "+strconv.Quote(day), r, "doctorId", "date")
		}

		// A new time is kept as the instants sent.
		r = e.do("POST", "/api/v1/appointments/"+id+"/reschedule", e.pat.Token, map[string]any{"start": start, "end": end})
		if r.Status == 200 {
			got := r.JSON(t)
			s, errS := time.Parse(time.RFC3339, start)
			en, errE := time.Parse(time.RFC3339, end)
			gs, _ := time.Parse(time.RFC3339, got["start"].(string))
			ge, _ := time.Parse(time.RFC3339, got["end"].(string))
			if errS != nil || errE != nil || !gs.Equal(s) || !ge.Equal(en) {
				t.Fatalf("reschedule to %q-%q kept as %s", start, end, r.Body)
			}
		} else {
			refusedNaming(t, "reschedule to "+strconv.Quote(start)+"-"+strconv.Quote(end), r, "start", "end")
		}

		// A status is taken as spelled or refused naming it.
		r = e.do("POST", "/api/v1/appointments/"+id+"/status", e.doc.Token, map[string]any{"status": newStatus})
		if r.Status == 200 {
			if got := r.JSON(t)["status"]; got != newStatus {
				t.Fatalf("status %q kept as %v", newStatus, got)
			}
		} else {
			refusedNaming(t, "status "+strconv.Quote(newStatus), r, "status")
		}
	})
}
