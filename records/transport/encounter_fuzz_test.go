package transport_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/ids"
)

// noteText is what a client is promised an addendum or a reason is: text
// that is not blank, without control characters (but line breaks and tabs
// where multiLine), at most max characters.
func noteText(s string, max int, multiLine bool) bool {
	if strings.TrimSpace(s) == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > max {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsControl(r) && !(multiLine && (r == '\n' || r == '\r' || r == '\t'))
	})
}

// refusedNaming fails t unless r is a problem naming only fields of want.
func refusedNaming(t *testing.T, what string, r resp, want ...string) {
	t.Helper()
	fields := problemFields(t, r)
	if len(fields) == 0 {
		t.Fatalf("%s: %d names no field: %s", what, r.code, r.body)
	}
	for _, f := range fields {
		if !slices.Contains(want, f) {
			t.Fatalf("%s: %d names %q: %s", what, r.code, f, r.body)
		}
	}
}

// FuzzEncounterInputs: whatever a client sends back as an encounter's
// status and creation time, as an addendum, as the reason it is entered
// in error, as an encounter id in the path and as the list's limit and
// cursor, the answer keeps what was sent or is a problem naming the field;
// never an error of the server.
func FuzzEncounterInputs(f *testing.F) {
	for _, s := range [][7]string{
		{"open", "", "Dose corrected to 5 mg.", "wrong patient", "", "10", ""},
		{"signed", "2001-01-01T00:00:00Z", " ", "\t", "NOT-A-UUID", "0", `["x"]`},
		{"OPEN", "not a time", "line\nbreak\ttab", "line\nbreak", "{id}", "101", `["0190a0a0-0000-7000-8000-00000000a001"]`},
		{"entered-in-error", "2027-13-45T99:00:00Z", "a\x00b", "\u202eexe", "%2e%2e", "-1", `null`},
		{"open", "1e9", strings.Repeat("é", 20001), strings.Repeat("x", 501), "..", "1", `[1]`},
		{"", "\"", "\xff", "\xc3", "00000000-0000-0000-0000-000000000000", "9999999999999999999", `["a\u0000"]`},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	h := newHarness(f, 1<<20)
	f.Fuzz(func(t *testing.T, status, createdAt, text, reason, pathID, limit, cursor string) {
		status, createdAt, text, reason = apitest.JSONText(status), apitest.JSONText(createdAt), apitest.JSONText(text), apitest.JSONText(reason)
		r := h.do("doctor", "POST", "/encounters", js(map[string]any{"note": map[string]string{"subjective": "cough"}}),
			"Content-Type", "application/json")
		if r.code != 201 {
			t.Fatalf("open = %d %s", r.code, r.body)
		}
		enc := r.json(t)
		id := enc["id"].(string)

		// A PUT sends back what GET gave with the status and creation time
		// replaced: it is taken only when both are the encounter's own.
		put := map[string]any{}
		for k, v := range enc {
			put[k] = v
		}
		put["status"], put["createdAt"] = status, createdAt
		was, _ := time.Parse(time.RFC3339Nano, enc["createdAt"].(string))
		sentAt, err := time.Parse(time.RFC3339Nano, createdAt)
		same := status == "open" && err == nil && sentAt.Equal(was)
		r = h.do("doctor", "PUT", "/encounters/"+id, js(put), "Content-Type", "application/json", "If-Match", `"1"`)
		what := "status " + strconv.Quote(status) + ", createdAt " + strconv.Quote(createdAt)
		switch {
		case r.code == 200:
			if !same {
				t.Fatalf("%s taken: %s", what, r.body)
			}
			if got := r.json(t); got["status"] != "open" || got["createdAt"] != enc["createdAt"] {
				t.Fatalf("%s: kept as %s", what, r.body)
			}
		case same && r.code != 200:
			t.Fatalf("%s: the encounter's own values refused: %d %s", what, r.code, r.body)
		default:
			refusedNaming(t, what, r, "status", "createdAt")
		}
		version := `"1"`
		if r.code == 200 {
			version = `"2"`
		}

		r = h.do("doctor", "POST", "/encounters/"+id+"/sign", nil, "If-Match", version)
		if r.code != 200 {
			t.Fatalf("sign = %d %s", r.code, r.body)
		}
		version = r.h.Get("ETag")

		r = h.do("doctor", "POST", "/encounters/"+id+"/addenda", js(map[string]string{"text": text}), "Content-Type", "application/json")
		switch ok := noteText(text, 20000, true); {
		case r.code == 201:
			if !ok || r.json(t)["text"] != text {
				t.Fatalf("addendum %q kept as %s", text, r.body)
			}
		case ok:
			t.Fatalf("addendum %q refused: %d %s", text, r.code, r.body)
		default:
			refusedNaming(t, "addendum "+strconv.Quote(text), r, "text")
		}

		r = h.do("doctor", "POST", "/encounters/"+id+"/entered-in-error", js(map[string]string{"reason": reason}),
			"Content-Type", "application/json", "If-Match", version)
		switch ok := noteText(reason, 500, false); {
		case r.code == 200:
			if got := r.json(t); !ok || got["status"] != "entered-in-error" || got["enteredInErrorReason"] != reason {
				t.Fatalf("reason %q kept as %s", reason, r.body)
			}
		case ok:
			t.Fatalf("reason %q refused: %d %s", reason, r.code, r.body)
		default:
			refusedNaming(t, "reason "+strconv.Quote(reason), r, "reason")
		}

		// An id in the path reads this encounter only when it is its id.
		r = h.do("doctor", "GET", "/encounters/"+url.PathEscape(pathID), nil)
		canon, isUUID := ids.Canonical(pathID)
		switch {
		case r.code == 200:
			if !isUUID || r.json(t)["id"] != canon {
				t.Fatalf("encounter %q read as %s", pathID, r.body)
			}
		case r.code == 404:
			if isUUID && canon == id {
				t.Fatalf("encounter %q not found", pathID)
			}
			problemFields(t, r)
		case isUUID:
			t.Fatalf("encounter %q: %d %s", pathID, r.code, r.body)
		case strings.ContainsAny(pathID, "/") || pathID == "" || pathID == "." || pathID == "..":
			// Another route, or none.
			if r.code >= 500 {
				t.Fatalf("encounter %q: %d %s", pathID, r.code, r.body)
			}
		default:
			refusedNaming(t, "encounter "+strconv.Quote(pathID), r, "encounterId")
		}

		q := url.Values{"limit": {limit}}
		if cursor != "" {
			q.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(cursor)))
		}
		r = h.do("patient", "GET", "/encounters?"+q.Encode(), nil)
		if r.code == 200 {
			var l struct {
				Items []map[string]any `json:"items"`
			}
			if json.Unmarshal(r.body, &l) != nil {
				t.Fatalf("limit %q, cursor %q: %s", limit, cursor, r.body)
			}
		} else {
			refusedNaming(t, "limit "+strconv.Quote(limit)+", cursor "+strconv.Quote(cursor), r, "limit", "cursor")
		}
	})
}
