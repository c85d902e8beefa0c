package e2e

import (
	"net/http"
	"testing"
	"time"
)

// After a logout, the session's access token is refused within moments by
// the gateway and by every service that verifies tokens itself: auth's
// revocation feed reaches them all (docs/adr/0013-token-revocation-feed.md).
func TestLogoutWithdrawsTheAccessTokenEverywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole system")
	}
	s := startSystem(t)
	c := &client{t: t, base: s.gateway.url(""), hc: &http.Client{Timeout: 15 * time.Second}}
	register(t, c, "dora@e2e.example", "Dora-e2e-Passw0rd!", "Dora Revoked")
	r := c.do(http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": "dora@e2e.example", "password": "Dora-e2e-Passw0rd!"})
	expect(t, r, http.StatusOK, "login")
	access, _ := r.JSON(t)["accessToken"].(string)
	refresh, _ := r.JSON(t)["refreshToken"].(string)

	type place struct {
		name string
		c    *client
		path string
	}
	places := []place{
		{"gateway to auth", c, "/api/v1/auth/me"},
		{"gateway to doctor", c, "/api/v1/specializations"},
		{"gateway to patient", c, "/api/v1/patients/me"},
		{"doctor itself", &client{t: t, base: s.doctor.url(""), hc: c.hc}, "/api/v1/specializations"},
	}
	for i, p := range s.patients {
		places = append(places, place{"patient instance " + string(rune('1'+i)), &client{t: t, base: p.url(""), hc: c.hc}, "/api/v1/patients/me"})
	}
	for _, p := range places {
		if got := p.c.do(http.MethodGet, p.path, access, nil).Status; got == http.StatusUnauthorized {
			t.Fatalf("%s refuses the token before the logout", p.name)
		}
	}

	expect(t, c.do(http.MethodPost, "/api/v1/auth/logout", "", map[string]any{"refreshToken": refresh}), http.StatusNoContent, "logout")
	start := time.Now()
	for _, p := range places {
		waitFor(t, p.name+" to refuse the token after the logout", 2*time.Second-time.Since(start), func() bool {
			return p.c.do(http.MethodGet, p.path, access, nil).Status == http.StatusUnauthorized
		})
	}
}
