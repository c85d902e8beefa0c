package wire_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/transport"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/auth/wire/wiretest"
	"github.com/medisync/medisync/shared/apitest"
	"github.com/medisync/medisync/shared/clock/clocktest"
	"github.com/medisync/medisync/shared/httpmw"
	"github.com/medisync/medisync/shared/logging"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// FuzzClientInput: whatever a client puts in the users list's query, a
// refresh, logout or reset token, or the email of a login or a forgotten
// password, the answer is a success or a problem, never a fault, and a
// problem that lists errors names only fields of the request.
func FuzzClientInput(f *testing.F) {
	for _, s := range []string{
		"role=ADMIN&limit=5", "role=admin", "role=", "role=ADMIN&role=DOCTOR", "cursor=WyJ4Il0&limit=0", "limit=101",
		"cursor=%FF", "%zz=1", "q=a;b", strings.Repeat("A", 43), strings.Repeat("A", 42) + "B", strings.Repeat("_", 43),
		"Pat@Example.org", " pat@example.org\u0085", "pät@example.org", "", "\x00",
	} {
		for which := range uint8(6) {
			f.Add(s, which)
		}
	}
	db := sqltest.SQLite(f, sqlstore.Migrations())
	a, err := wire.Build(context.Background(), db, wire.Config{
		Hash: password.HasherOptions{Params: password.Cheap}, Notifier: &mailbox{},
		Clock: clocktest.New(time.Now().UTC().Truncate(time.Second)), KeyEncryptionKey: wiretest.KEK,
	}, logging.Nop(), nil)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := a.Bootstrap(context.Background(), adminEmail, adminPassword); err != nil {
		f.Fatal(err)
	}
	r := httpmw.NewRouter()
	a.Routes(r)
	h := httpmw.Stack(r, httpmw.Options{Logger: logging.Nop(), MaxBodyBytes: transport.MaxBodyBytes})
	serve := func(method, target string, body any, token string) apitest.Response {
		var raw []byte
		if body != nil {
			raw, _ = json.Marshal(body)
		}
		req, err := http.NewRequest(method, "http://example.com"+target, strings.NewReader(string(raw)))
		if err != nil {
			f.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return apitest.Serve(h, req)
	}
	login := serve("POST", "/api/v1/auth/login", map[string]string{"email": adminEmail, "password": adminPassword}, "")
	var tok struct{ AccessToken string }
	if err := json.Unmarshal(login.Body, &tok); err != nil || tok.AccessToken == "" {
		f.Fatalf("login: %d %s", login.Status, login.Body)
	}
	fields := map[string]bool{"query": true, "role": true, "limit": true, "cursor": true, "refreshToken": true, "token": true,
		"newPassword": true, "email": true, "password": true}
	f.Fuzz(func(t *testing.T, s string, which uint8) {
		var res apitest.Response
		var what string
		switch which % 6 {
		case 0:
			u, err := url.ParseRequestURI("/api/v1/auth/users?" + s)
			if err != nil || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '#' || r == 0x7f }) {
				return // no request line Go's server takes
			}
			what = "GET " + u.RequestURI()
			res = serve("GET", u.RequestURI(), nil, tok.AccessToken)
		case 1:
			what, res = "refresh "+s, serve("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": s}, "")
		case 2:
			what, res = "logout "+s, serve("POST", "/api/v1/auth/logout", map[string]string{"refreshToken": s}, "")
		case 3:
			what, res = "reset "+s, serve("POST", "/api/v1/auth/password/reset",
				map[string]string{"token": s, "newPassword": "violet tram cupboard"}, "")
		case 4:
			what, res = "forgot "+s, serve("POST", "/api/v1/auth/password/forgot", map[string]string{"email": s}, "")
		case 5:
			what, res = "login "+s, serve("POST", "/api/v1/auth/login", map[string]string{"email": s, "password": "violet tram cupboard"}, "")
		}
		if res.Status < 400 {
			return
		}
		if res.Status >= 500 || res.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%q: %d %s", what, res.Status, res.Body)
		}
		var p struct {
			Errors []struct{ Field, Message string } `json:"errors"`
		}
		if err := json.Unmarshal(res.Body, &p); err != nil {
			t.Fatalf("%q: %d with a body that is no problem: %s", what, res.Status, res.Body)
		}
		sent := map[string]bool{}
		for _, kv := range strings.Split(s, "&") {
			// A parameter named as sent or decoded, invalid UTF-8 as JSON
			// writes it.
			k, _, _ := strings.Cut(kv, "=")
			sent[string([]rune(k))] = true
			if k, err := url.QueryUnescape(k); err == nil {
				sent[string([]rune(k))] = true
			}
		}
		for _, e := range p.Errors {
			if !fields[e.Field] && !(which%6 == 0 && sent[e.Field]) || e.Message == "" {
				t.Fatalf("%q: %d names %q, no field of the request: %s", what, res.Status, e.Field, res.Body)
			}
		}
	})
}
