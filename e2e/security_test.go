package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// authDiscToken is auth's own discovery write token: with it, and only with
// it, discovery registers an instance as auth and marks it authenticated.
const authDiscToken = "e2e-auth-discovery-token"

// discoveryEnv configures discovery with the shared token and auth's own.
func discoveryEnv() map[string]string {
	return map[string]string{
		"MEDISYNC_DISCOVERY_TOKEN":          discToken,
		"MEDISYNC_DISCOVERY_SERVICE_TOKENS": "auth=" + authDiscToken,
	}
}

// rogue is a process posing as auth: it serves a JWKS of its own key and
// records every request it gets (logins, JWKS or revocation fetches).
type rogue struct {
	srv  *httptest.Server
	priv ed25519.PrivateKey
	kid  string
	mu   sync.Mutex
	hits []string
}

func newRogue(t *testing.T) *rogue {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pub)
	r := &rogue{priv: priv, kid: base64.RawURLEncoding.EncodeToString(sum[:])}
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": r.kid,
		"x": base64.RawURLEncoding.EncodeToString(pub),
	}}})
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.hits = append(r.hits, req.Method+" "+req.URL.Path)
		r.mu.Unlock()
		switch req.URL.Path {
		case "/.well-known/jwks.json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(jwks)
		case "/internal/revocations":
			_, _ = w.Write([]byte(`{"index":1,"revocations":[]}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"accessToken":"stolen","refreshToken":"stolen"}`))
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *rogue) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.hits...)
}

// adminToken is an ADMIN access token signed with the rogue's key, with
// every claim a verifier checks set as auth would set it.
func (r *rogue) adminToken(t *testing.T) string {
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss": "medisync-auth", "aud": "medisync", "sub": "0190a0a0-0000-7000-8000-000000000001",
		"roles": []string{"ADMIN"}, "email": "rogue@e2e.example",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "rogue-1",
	})
	tok.Header["kid"] = r.kid
	raw, err := tok.SignedString(r.priv)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// registerRogue puts the rogue under auth in discovery with the given
// Authorization header ("" for none) and returns the status.
func registerRogue(t *testing.T, disc *proc, r *rogue, authorization string) int {
	host, port, _ := strings.Cut(strings.TrimPrefix(r.srv.URL, "http://"), ":")
	p, _ := strconv.Atoi(port)
	body, _ := json.Marshal(map[string]any{"address": host, "port": p, "ttlSeconds": 60,
		"metadata": map[string]string{"authenticated": "true"}})
	req, _ := http.NewRequest(http.MethodPut, disc.url("/api/v1/registry/auth/rogue"), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// edgeSystem starts discovery (with env), the real auth with its own token,
// one patient instance and the gateway.
func edgeSystem(t *testing.T, discEnv map[string]string) (*system, *client) {
	t.Helper()
	s := &system{dataDir: t.TempDir()}
	s.disc = start(t, "discovery", "discovery", discEnv)
	authEnv := s.common("auth")
	authEnv["MEDISYNC_ADMIN_EMAIL"] = adminEmail
	authEnv["MEDISYNC_ADMIN_PASSWORD"] = adminPassword
	authEnv["MEDISYNC_HASH_MEMORY_KIB"] = "1024"
	authEnv["MEDISYNC_HASH_ITERATIONS"] = "1"
	s.auth = start(t, "auth", "auth", authEnv)
	s.patients = []*proc{start(t, "patient", "patient", s.common("patient"))}
	gwEnv := s.common("gateway")
	gwEnv["MEDISYNC_RATE_LIMIT_STRICT_BURST"] = "40"
	gwEnv["MEDISYNC_METRICS_ADDR"] = "127.0.0.1:0"
	s.gateway = start(t, "gateway", "gateway", gwEnv)
	c := &client{t: t, base: s.gateway.url(""), hc: &http.Client{Timeout: 15 * time.Second}}
	for _, p := range []*proc{s.gateway, s.patients[0]} {
		waitFor(t, p.name+" to be ready (auth's JWKS fetched)", 20*time.Second, func() bool {
			resp, err := http.Get(p.url("/health/ready"))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
	}
	return s, c
}

// assertRogueGetsNothing checks that neither the patient service nor the
// gateway accepts the rogue's ADMIN token, and that logins through the
// gateway all reach the real auth, never the rogue.
func assertRogueGetsNothing(t *testing.T, s *system, c *client, r *rogue) {
	t.Helper()
	tok := r.adminToken(t)
	// Two tries, further apart than the 5 s limit on refreshes for an
	// unknown kid: each may make a verifier fetch the JWKS again, from
	// whichever auth instance it trusts.
	for i := 0; i < 2; i++ {
		if i > 0 {
			time.Sleep(5500 * time.Millisecond)
		}
		direct := &client{t: t, base: s.patients[0].url(""), hc: c.hc}
		expect(t, direct.do(http.MethodGet, "/api/v1/patients?limit=1", tok, nil), http.StatusUnauthorized,
			"the patient service refuses an ADMIN token signed by the rogue")
		expect(t, c.do(http.MethodGet, "/api/v1/patients?limit=1", tok, nil), http.StatusUnauthorized,
			"the gateway refuses an ADMIN token signed by the rogue")
	}
	// Round robin over two auth instances would send every other login to
	// the rogue, which answers 200 with tokens of its own.
	for i := 0; i < 6; i++ {
		r := c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{
			"email": fmt.Sprintf("nobody-%d@e2e.example", i), "password": "Wrong-passw0rd-long"})
		if r.Status != http.StatusUnauthorized && r.Status != http.StatusTooManyRequests {
			t.Fatalf("login %d answered %d, not by the real auth: %s", i, r.Status, r.Body)
		}
	}
	expect(t, c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]string{"email": adminEmail, "password": adminPassword}),
		http.StatusOK, "the real admin logs in")
	if hits := r.seen(); len(hits) > 0 {
		t.Fatalf("the rogue was reached: %v", hits)
	}
}

// TestRogueCannotRegisterAsAuth: holding the shared token, or none, is not
// enough to register as auth once auth has its own token.
func TestRogueCannotRegisterAsAuth(t *testing.T) {
	s, c := edgeSystem(t, discoveryEnv())
	r := newRogue(t)
	if got := registerRogue(t, s.disc, r, "Bearer "+discToken); got != http.StatusForbidden {
		t.Fatalf("registration as auth with the shared token: %d, want 403", got)
	}
	if got := registerRogue(t, s.disc, r, ""); got != http.StatusUnauthorized {
		t.Fatalf("anonymous registration as auth: %d, want 401", got)
	}
	if got := registered(t, s.disc, "auth"); len(got) != 1 || got[0] != s.auth.addr {
		t.Fatalf("auth instances %v, want only %s", got, s.auth.addr)
	}
	assertRogueGetsNothing(t, s, c, r)
}

// TestUnauthenticatedAuthIsNotTrusted: even where discovery lets a rogue
// register as auth (an open registry), verifiers and the gateway use only
// the auth instance discovery authenticated with auth's own token.
func TestUnauthenticatedAuthIsNotTrusted(t *testing.T) {
	env := discoveryEnv()
	env["MEDISYNC_INSECURE_OPEN_REGISTRY"] = "true"
	s, c := edgeSystem(t, env)
	r := newRogue(t)
	if got := registerRogue(t, s.disc, r, ""); got != http.StatusCreated {
		t.Fatalf("anonymous registration in an open registry: %d, want 201", got)
	}
	waitFor(t, "the rogue to be listed as auth", 10*time.Second, func() bool { return len(registered(t, s.disc, "auth")) == 2 })
	assertRogueGetsNothing(t, s, c, r)
}

// TestWithoutTokensDiscoveryRefusesWrites: a registry started with no token
// at all takes no registration, anonymous or not.
func TestWithoutTokensDiscoveryRefusesWrites(t *testing.T) {
	disc := start(t, "discovery", "discovery", map[string]string{"MEDISYNC_DISCOVERY_TOKEN": ""})
	r := newRogue(t)
	for _, h := range []string{"", "Bearer anything"} {
		if got := registerRogue(t, disc, r, h); got != http.StatusForbidden {
			t.Fatalf("write to a registry without tokens (%q): %d, want 403", h, got)
		}
	}
	if got := registered(t, disc, "auth"); len(got) != 0 {
		t.Fatalf("auth instances %v, want none", got)
	}
}
