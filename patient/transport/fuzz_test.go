package transport_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/medisync/medisync/patient/adapter/sqlstore"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// FuzzListQueries: whatever query string a client sends to the patient
// search or to a history list, the answer is the list or a problem; a
// problem that lists errors names only the query or a parameter it holds,
// and none is a fault of the service.
func FuzzListQueries(f *testing.F) {
	for _, q := range []string{
		"q=lov", "q=LOV&dateOfBirth=1985-12-10&email=ADA@example.org", "q=ada%00", "q=%FFada", "email=%FF@example.org",
		"q=e&cursor=WyLwn5iAIiwiw6kiLCLDqfCfmIAiXQ", "cursor=WyJhIiwiYiIsImMiXQ&limit=101", "limit=-1", "limit=1e3",
		"q=a+b+c+d+e+f", "dateOfBirth=2026-02-30", "q=%25_!", "type=allergy,NOTE&status=ACTIVE", "type=&status=a,",
		"type=X&type=Y&status=entered-in-error", "q=%E2%80%A8", "q=" + strings.Repeat("%F0%9F%98%80", 101), "%zz=1", "q=a;b=c",
	} {
		f.Add(q, false)
		f.Add(q, true)
	}
	h := newHarness(f, sqltest.SQLite(f, sqlstore.Migrations()))
	admin := h.user(roles.admin)
	doc := h.user(roles.doctor)
	pid := h.newPatientFor(h.user(roles.patient))
	h.newEntry(doc, pid)
	params := map[string]bool{"query": true, "q": true, "email": true, "dateOfBirth": true, "limit": true, "cursor": true, "type": true, "status": true}
	f.Fuzz(func(t *testing.T, raw string, history bool) {
		path, token := "/api/v1/patients", admin.token
		if history {
			path, token = "/api/v1/patients/"+pid+"/history", doc.token
		}
		u, err := url.ParseRequestURI(path + "?" + raw)
		if err != nil || strings.ContainsAny(raw, " #\x7f") || strings.ContainsFunc(raw, func(r rune) bool { return r < ' ' }) {
			return // no request line Go's server takes
		}
		req, err := http.NewRequest(http.MethodGet, "http://example.com"+u.RequestURI(), nil)
		if err != nil {
			return
		}
		req.Header.Set("Authorization", "Bearer "+token)
		r := apitest.Serve(h.handler, req)
		if r.Status == http.StatusOK {
			return
		}
		if r.Status >= 500 || r.Status < 400 || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("GET %s?%s: %d %s", path, raw, r.Status, r.Body)
		}
		var p struct {
			Errors []struct{ Field, Message string } `json:"errors"`
		}
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatalf("GET %s?%s: %d with a body that is no problem: %s", path, raw, r.Status, r.Body)
		}
		sent := map[string]bool{}
		for _, kv := range strings.Split(raw, "&") {
			// Named as sent or decoded, invalid UTF-8 as JSON writes it.
			k, _, _ := strings.Cut(kv, "=")
			sent[string([]rune(k))] = true
			if k, err := url.QueryUnescape(k); err == nil {
				sent[string([]rune(k))] = true
			}
		}
		for _, e := range p.Errors {
			if !params[e.Field] && !sent[e.Field] || e.Message == "" {
				t.Fatalf("GET %s?%s: %d names %q, no parameter of the query: %s", path, raw, r.Status, e.Field, r.Body)
			}
		}
	})
}
