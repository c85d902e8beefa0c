package wire_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/wire/wiretest"
)

func postJSON(b *testing.B, c *http.Client, url string, body any, want int) {
	raw, _ := json.Marshal(body)
	res, err := c.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != want {
		b.Fatalf("%s: status %d", url, res.StatusCode)
	}
}

// BenchmarkLogin measures one login over HTTP at OWASP argon2id cost:
// throttle check, user lookup, verification, refresh token insert, signing.
func BenchmarkLogin(b *testing.B) {
	srv := wiretest.Server(b, password.OWASP)
	c := srv.Client()
	body := map[string]string{"email": "bench@example.org", "password": "violet tram cupboard", "fullName": "Bench"}
	postJSON(b, c, srv.URL+"/api/v1/auth/register", body, http.StatusAccepted)
	login := map[string]string{"email": "bench@example.org", "password": "violet tram cupboard"}
	b.ResetTimer()
	for b.Loop() {
		postJSON(b, c, srv.URL+"/api/v1/auth/login", login, http.StatusOK)
	}
}

// BenchmarkLoginParallel is the same with concurrent clients; the hashing
// pool bounds the work to one hash per core.
func BenchmarkLoginParallel(b *testing.B) {
	srv := wiretest.Server(b, password.OWASP)
	c := srv.Client()
	const users = 16
	for i := 0; i < users; i++ {
		postJSON(b, c, srv.URL+"/api/v1/auth/register", map[string]string{
			"email": fmt.Sprintf("bench%d@example.org", i), "password": "violet tram cupboard", "fullName": "Bench",
		}, http.StatusAccepted)
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1)
			postJSON(b, c, srv.URL+"/api/v1/auth/login", map[string]string{
				"email": fmt.Sprintf("bench%d@example.org", i%users), "password": "violet tram cupboard",
			}, http.StatusOK)
		}
	})
}

// BenchmarkRefresh measures a refresh-token rotation over HTTP: lookup,
// transaction marking the old token and inserting the new, signing.
func BenchmarkRefresh(b *testing.B) {
	srv := wiretest.Server(b, password.OWASP)
	c := srv.Client()
	postJSON(b, c, srv.URL+"/api/v1/auth/register", map[string]string{
		"email": "bench@example.org", "password": "violet tram cupboard", "fullName": "Bench",
	}, http.StatusAccepted)
	raw, _ := json.Marshal(map[string]string{"email": "bench@example.org", "password": "violet tram cupboard"})
	res, err := c.Post(srv.URL+"/api/v1/auth/login", "application/json", bytes.NewReader(raw))
	if err != nil {
		b.Fatal(err)
	}
	var tok struct {
		RefreshToken string `json:"refreshToken"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	b.ResetTimer()
	for b.Loop() {
		raw, _ := json.Marshal(map[string]string{"refreshToken": tok.RefreshToken})
		res, err := c.Post(srv.URL+"/api/v1/auth/refresh", "application/json", bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
		_ = json.NewDecoder(res.Body).Decode(&tok)
		res.Body.Close()
	}
}
