package transport_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/medisync/medisync/shared/apitest"
)

// problemFields fails t unless r is a 4xx problem, and returns the fields
// it names.
func problemFields(t *testing.T, r resp) []string {
	t.Helper()
	return apitest.Refused(t, "answer", apitest.Response{Status: r.code, Header: r.h, Body: r.body})
}

// acceptableText is what a client is promised a stored title, type or
// category is: UTF-8 without control characters, at most max characters.
func acceptableText(s string, max int, required bool) bool {
	if required && strings.TrimSpace(s) == "" {
		return false
	}
	return utf8.ValidString(s) && utf8.RuneCountInString(s) <= max && !strings.ContainsFunc(s, unicode.IsControl)
}

// FuzzUploadMetadata: whatever title, type and category a client sends
// with an upload, and whatever status filter on the list, the answer is a
// document that keeps them as sent, or a problem naming the field; never
// an error of the server. A document is listed under its own status.
func FuzzUploadMetadata(f *testing.F) {
	for _, s := range [][4]string{
		{"CBC", "lab-report", "", "current"},
		{" ", "lab-report", "", ""},
		{"x\x00y", "t", "c", "current,superseded"},
		{"\u202egnp.exe", "t", "", "CURRENT"},
		{strings.Repeat("é", 200), strings.Repeat("t", 100), strings.Repeat("c", 100), "current, entered-in-error"},
		{strings.Repeat("é", 201), "t", "", "current,current,current,current"},
		{"ok", "\xff", "", ","},
		{"a\tb", "t", "\n", "superseded"},
		{"ok", "t", "c", "current;superseded"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	h := newHarness(f, 1<<20)
	pdf := []byte("%PDF-1.7\nresults")
	f.Fuzz(func(t *testing.T, title, typ, category, status string) {
		q := url.Values{"title": {title}, "type": {typ}}
		if category != "" {
			q.Set("category", category)
		}
		r := h.do("patient", "POST", "/documents?"+q.Encode(), bytes.NewReader(pdf), "Content-Type", "application/pdf")
		valid := acceptableText(title, 200, true) && acceptableText(typ, 100, true) && acceptableText(category, 100, false)
		switch {
		case r.code == 201:
			if !valid {
				t.Fatalf("title %q, type %q, category %q accepted", title, typ, category)
			}
			doc := r.json(t)
			if doc["title"] != title || doc["type"] != typ || doc["category"] != category {
				t.Fatalf("title %q, type %q, category %q stored as %q, %q, %q", title, typ, category, doc["title"], doc["type"], doc["category"])
			}
			got := h.do("patient", "GET", "/documents/"+doc["id"].(string), nil)
			if got.code != 200 || !bytes.Equal(got.body, r.body) {
				t.Fatalf("read back %d: %s, uploaded %s", got.code, got.body, r.body)
			}
		case r.code >= 500:
			t.Fatalf("title %q, type %q, category %q: %d %s", title, typ, category, r.code, r.body)
		default:
			fields := problemFields(t, r)
			if valid || len(fields) == 0 || !slices.ContainsFunc(fields, func(f string) bool {
				return f == "title" || f == "type" || f == "category"
			}) {
				t.Fatalf("title %q, type %q, category %q: %d %s", title, typ, category, r.code, r.body)
			}
		}

		l := h.do("patient", "GET", "/documents?"+url.Values{"status": {status}, "limit": {"1"}}.Encode(), nil)
		switch {
		case l.code == 200:
			var list struct {
				Items []struct {
					Status string `json:"status"`
				} `json:"items"`
			}
			if err := json.Unmarshal(l.body, &list); err != nil {
				t.Fatalf("status %q: %s", status, l.body)
			}
			for _, it := range list.Items {
				if !slices.Contains(strings.Split(status, ","), it.Status) && !strings.Contains(status, it.Status) {
					t.Fatalf("status %q lists a %s document", status, it.Status)
				}
			}
		case l.code >= 500:
			t.Fatalf("status %q: %d %s", status, l.code, l.body)
		default:
			if fields := problemFields(t, l); !slices.Equal(fields, []string{"status"}) {
				t.Fatalf("status %q: %d names %q: %s", status, l.code, fields, l.body)
			}
		}
	})
}
