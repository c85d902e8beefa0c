package wire_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/throttle"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

const (
	patEmail = "pat@example.org"
	patPass  = "violet tram cupboard"
)

func TestRegisterLoginMe(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		r := e.req("POST", "/api/v1/auth/register", map[string]string{
			"email": "  Pat@Example.ORG ", "password": patPass, "fullName": "Pat Q",
		})
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		u := r.JSON(t)
		assert.Equal(t, "pat@example.org", u["email"], "stored normalized")
		assert.Equal(t, []any{"PATIENT"}, u["roles"])
		assert.Equal(t, false, u["disabled"])
		assert.EqualValues(t, 1, u["version"])
		assert.NotContains(t, u, "passwordHash")
		assert.Equal(t, `"1"`, r.Header.Get("ETag"))
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		assert.Equal(t, "/api/v1/auth/users/"+u["id"].(string), r.Header.Get("Location"))
		created, err := time.Parse(time.RFC3339Nano, u["createdAt"].(string))
		require.NoError(t, err)
		assert.Equal(t, time.UTC, created.Location())

		// Same address in other case: 409.
		r = e.req("POST", "/api/v1/auth/register", map[string]string{
			"email": "PAT@example.org", "password": patPass, "fullName": "Pat Again",
		})
		assert.Equal(t, http.StatusConflict, r.Status)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))

		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": "PAT@EXAMPLE.ORG", "password": patPass})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		m := r.JSON(t)
		assert.Equal(t, "Bearer", m["tokenType"])
		assert.EqualValues(t, 900, m["expiresIn"])
		assert.EqualValues(t, 7*24*3600, m["refreshExpiresIn"])
		assert.Len(t, m["refreshToken"], 43, "256 random bits")
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))

		me := e.req("GET", "/api/v1/auth/me", nil, bearer(m["accessToken"].(string))...)
		require.Equal(t, http.StatusOK, me.Status, string(me.Body))
		assert.Equal(t, u["id"], me.JSON(t)["id"])
		assert.Equal(t, "no-store", me.Header.Get("Cache-Control"))

		// The access token carries what DESIGN.md promises.
		claims := jwtClaims(t, m["accessToken"].(string))
		assert.Equal(t, "medisync-auth", claims["iss"])
		assert.Equal(t, []any{"medisync"}, claims["aud"])
		assert.Equal(t, u["id"], claims["sub"])
		assert.Equal(t, "pat@example.org", claims["email"])
		assert.Equal(t, []any{"PATIENT"}, claims["roles"])
		assert.EqualValues(t, 900, claims["exp"].(float64)-claims["iat"].(float64))
		assert.Equal(t, claims["iat"], claims["nbf"])
		assert.NotEmpty(t, claims["jti"])
	})
}

func TestMeNeedsAValidToken(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		tok := e.login(patEmail, patPass)
		for name, h := range map[string][]string{
			"none":     nil,
			"basic":    {"Authorization", "Basic cGF0OnB3"},
			"garbage":  bearer("not-a-jwt"),
			"tampered": bearer(tamper(t, tok.Access)),
			"100 KB":   bearer(strings.Repeat("a", 100<<10)),
			"refresh":  bearer(tok.Refresh),
			"alg none": bearer(unsigned(t, tok.Access)),
		} {
			r := e.req("GET", "/api/v1/auth/me", nil, h...)
			assert.Equal(t, http.StatusUnauthorized, r.Status, name)
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), name)
		}
		// Expired: 15 minutes and the leeway later.
		e.clock.Advance(16 * time.Minute)
		r := e.req("GET", "/api/v1/auth/me", nil, bearer(tok.Access)...)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
	})
}

func TestBadInputIsA4xxProblem(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		reg := func(email, pw, name string) map[string]string {
			return map[string]string{"email": email, "password": pw, "fullName": name}
		}
		cases := []struct {
			name, path string
			body       any
			status     int
			field      string
		}{
			{"quoted email", "/register", reg(`"pat q"@example.org`, patPass, "Pat"), 400, "email"},
			{"sql in email", "/register", reg(`x'); DROP TABLE users;--@example.org`, patPass, "Pat"), 400, "email"},
			{"unicode email", "/register", reg("pät@exämple.org", patPass, "Pat"), 400, "email"},
			{"300-char email", "/register", reg(strings.Repeat("a", 288)+"@example.org", patPass, "Pat"), 400, "email"},
			{"no name", "/register", reg(patEmail, patPass, "  "), 400, "fullName"},
			{"11-char password", "/register", reg(patEmail, "short-pass1", "Pat"), 400, "password"},
			{"129-char password", "/register", reg(patEmail, strings.Repeat("ab", 64)+"c", "Pat"), 400, "password"},
			{"common password", "/register", reg(patEmail, "Password1234", "Pat"), 400, "password"},
			{"email as password", "/register", reg(patEmail, patEmail, "Pat"), 400, "password"},
			{"unknown field", "/register", `{"email":"a@b.org","password":"x","fullName":"y","role":"ADMIN"}`, 400, "role"},
			{"wrong type", "/register", `{"email":42,"password":"x","fullName":"y"}`, 400, "email"},
			{"malformed JSON", "/register", `{"email":`, 400, ""},
			{"empty body", "/register", ``, 400, ""},
			{"array body", "/login", `[]`, 400, ""},
			{"login bad email", "/login", map[string]string{"email": "nope", "password": "x"}, 400, "email"},
			{"login no password", "/login", map[string]string{"email": patEmail}, 400, "password"},
			{"refresh wrong type", "/refresh", `{"refreshToken":true}`, 400, "refreshToken"},
			{"forgot bad email", "/password/forgot", map[string]string{"email": "a@b"}, 400, "email"},
			{"reset bad token", "/password/reset", map[string]string{"token": "x", "newPassword": patPass}, 400, "token"},
			{"oversize", "/register", `{"email":"` + strings.Repeat("a", 70<<10) + `"}`, 413, ""},
		}
		for _, c := range cases {
			r := e.req("POST", "/api/v1/auth"+c.path, c.body)
			assert.Equal(t, c.status, r.Status, "%s: %s", c.name, r.Body)
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), c.name)
			if c.field != "" {
				assert.Contains(t, fields(t, r), c.field, "%s: %s", c.name, r.Body)
			}
			assert.NotContains(t, strings.ToLower(string(r.Body)), "sql", c.name)
		}
		r := e.req("POST", "/api/v1/auth/register", "email=a", "Content-Type", "application/x-www-form-urlencoded")
		assert.Equal(t, http.StatusUnsupportedMediaType, r.Status)
		r = e.req("GET", "/api/v1/auth/register", nil)
		assert.Equal(t, http.StatusMethodNotAllowed, r.Status)
		r = e.req("GET", "/api/v1/auth/nothing", nil)
		assert.Equal(t, http.StatusNotFound, r.Status)

		// The harmless-looking ones did no harm either.
		admin := e.admin()
		list := e.req("GET", "/api/v1/auth/users", nil, bearer(admin.Access)...)
		require.Equal(t, http.StatusOK, list.Status)
		assert.Len(t, list.JSON(t)["items"], 1, "nothing was created")
	})
}

func TestSameAnswerForUnknownEmailAndWrongPassword(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		wrong := e.req("POST", "/api/v1/auth/login", map[string]string{"email": patEmail, "password": "not the password"})
		unknown := e.req("POST", "/api/v1/auth/login", map[string]string{"email": "ghost@example.org", "password": "not the password"})
		require.Equal(t, http.StatusUnauthorized, wrong.Status)
		require.Equal(t, http.StatusUnauthorized, unknown.Status)
		assert.Equal(t, wrong.problemWithout(t), unknown.problemWithout(t))
		assert.Equal(t, wrong.Header.Get("WWW-Authenticate"), unknown.Header.Get("WWW-Authenticate"))
	})
}

func TestLoginThrottling(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
		bad := map[string]string{"email": patEmail, "password": "guess guess guess"}

		// Per account: 5 free failures, from any address.
		for i := 0; i < 5; i++ {
			r := e.req("POST", "/api/v1/auth/login", bad, from(fmt.Sprintf("198.51.100.%d", i))...)
			require.Equal(t, http.StatusUnauthorized, r.Status)
		}
		r := e.req("POST", "/api/v1/auth/login", bad, from("198.51.100.9")...)
		require.Equal(t, http.StatusUnauthorized, r.Status, "the 6th failure is answered, then blocks")
		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": patEmail, "password": patPass}, from("198.51.100.10")...)
		assert.Equal(t, http.StatusTooManyRequests, r.Status, "even the right password waits")
		assert.Equal(t, "1", r.Header.Get("Retry-After"))
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))

		e.clock.Advance(time.Second)
		r = e.req("POST", "/api/v1/auth/login", bad, from("198.51.100.11")...)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		r = e.req("POST", "/api/v1/auth/login", bad, from("198.51.100.12")...)
		assert.Equal(t, http.StatusTooManyRequests, r.Status)
		assert.Equal(t, "2", r.Header.Get("Retry-After"), "the window doubles")

		// The block expires: no permanent lockout; a success clears it.
		e.clock.Advance(2 * time.Second)
		e.login(patEmail, patPass)
		r = e.req("POST", "/api/v1/auth/login", bad, from("198.51.100.13")...)
		assert.Equal(t, http.StatusUnauthorized, r.Status, "counting starts over after a success")

		// Per client address: 20 free failures across accounts.
		for i := 0; i < 21; i++ {
			r := e.req("POST", "/api/v1/auth/login",
				map[string]string{"email": fmt.Sprintf("nobody%d@example.org", i), "password": "guess guess"},
				from("203.0.113.7")...)
			require.Equal(t, http.StatusUnauthorized, r.Status, i)
		}
		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": "fresh@example.org", "password": "guess guess"},
			from("203.0.113.7")...)
		assert.Equal(t, http.StatusTooManyRequests, r.Status)
		assert.NotEmpty(t, r.Header.Get("Retry-After"))
		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": "fresh@example.org", "password": "guess guess"},
			from("203.0.113.8")...)
		assert.Equal(t, http.StatusUnauthorized, r.Status, "other addresses are not affected")
	})
}

func TestUntrustedForwardedForIsIgnored(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, func(c *wire.Config) {
			c.TrustedProxies = nil
			c.ClientThrottle = throttle.Policy{Free: 2, Base: time.Minute, Max: time.Minute, Forget: time.Hour}
		})
		for i := 0; i < 3; i++ {
			r := e.req("POST", "/api/v1/auth/login",
				map[string]string{"email": fmt.Sprintf("n%d@example.org", i), "password": "guess guess"},
				"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
			require.Equal(t, http.StatusUnauthorized, r.Status)
		}
		r := e.req("POST", "/api/v1/auth/login", map[string]string{"email": "z@example.org", "password": "guess guess"},
			"X-Forwarded-For", "192.0.2.99")
		assert.Equal(t, http.StatusTooManyRequests, r.Status, "a spoofed header does not escape the peer's limit")
	})
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		first := e.login(patEmail, patPass)
		other := e.login(patEmail, patPass) // a second session, on another device

		r := e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": first.Refresh})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		second := r.Str(t, "refreshToken")
		assert.NotEqual(t, first.Refresh, second, "rotated")
		assert.NotEmpty(t, r.Str(t, "accessToken"))

		// The first token again: theft is assumed, the family dies.
		r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": first.Refresh})
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": second})
		assert.Equal(t, http.StatusUnauthorized, r.Status, "the rotated token of the same family is revoked too")

		r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": other.Refresh})
		assert.Equal(t, http.StatusOK, r.Status, "other sessions live on")

		for name, tok := range map[string]string{
			"empty": "", "short": "abc", "unknown": base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
			"access token": first.Access,
		} {
			r := e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": tok})
			assert.Equal(t, http.StatusUnauthorized, r.Status, name)
		}
	})
}

func TestRefreshExpiresAndLogoutRevokes(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		s := e.login(patEmail, patPass)
		r := e.req("POST", "/api/v1/auth/logout", map[string]string{"refreshToken": s.Refresh})
		assert.Equal(t, http.StatusNoContent, r.Status)
		r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": s.Refresh})
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		r = e.req("POST", "/api/v1/auth/logout", map[string]string{"refreshToken": s.Refresh})
		assert.Equal(t, http.StatusNoContent, r.Status, "idempotent")
		r = e.req("POST", "/api/v1/auth/logout", map[string]string{"refreshToken": "unknown"})
		assert.Equal(t, http.StatusNoContent, r.Status)

		s = e.login(patEmail, patPass)
		e.clock.Advance(7*24*time.Hour + time.Second)
		r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": s.Refresh})
		assert.Equal(t, http.StatusUnauthorized, r.Status, "expired")
	})
}

func TestChangePassword(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		s1 := e.login(patEmail, patPass)
		s2 := e.login(patEmail, patPass)
		const next = "quiet meadow lantern"
		change := func(cur, nw string) resp {
			return e.req("POST", "/api/v1/auth/password/change",
				map[string]string{"currentPassword": cur, "newPassword": nw}, bearer(s1.Access)...)
		}

		r := e.req("POST", "/api/v1/auth/password/change", map[string]string{"currentPassword": patPass, "newPassword": next})
		assert.Equal(t, http.StatusUnauthorized, r.Status, "needs a token")
		r = change("wrong password!", next)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Contains(t, fields(t, r), "currentPassword")
		r = change(patPass, "too short")
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Contains(t, fields(t, r), "newPassword")
		r = change(patPass, "iloveyou1234")
		assert.Contains(t, fields(t, r), "newPassword", "common")
		r = change(patPass, patPass)
		assert.Contains(t, fields(t, r), "newPassword", "unchanged")

		r = change(patPass, next)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		fresh := r.Str(t, "refreshToken")

		for _, old := range []string{s1.Refresh, s2.Refresh} {
			r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": old})
			assert.Equal(t, http.StatusUnauthorized, r.Status, "every other session is revoked")
		}
		r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": fresh})
		assert.Equal(t, http.StatusOK, r.Status, "the caller's new session works")

		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": patEmail, "password": patPass})
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		e.login(patEmail, next)
	})
}

func TestChangePasswordVoidsResetLinks(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		s := e.login(patEmail, patPass)
		e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": patEmail})
		sent := e.sent()
		require.Len(t, sent, 1)

		const next = "quiet meadow lantern"
		r := e.req("POST", "/api/v1/auth/password/change",
			map[string]string{"currentPassword": patPass, "newPassword": next}, bearer(s.Access)...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

		r = e.req("POST", "/api/v1/auth/password/reset", map[string]string{"token": sent[0].Token, "newPassword": "another fine phrase"})
		assert.Equal(t, http.StatusBadRequest, r.Status, "a link from before the change is void")
		assert.Contains(t, fields(t, r), "token")
		e.login(patEmail, next)
	})
}

func TestForgotAndResetPassword(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		id := e.register(patEmail, patPass, "Pat")
		session := e.login(patEmail, patPass)

		known := e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": "PAT@example.org"})
		unknown := e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": "ghost@example.org"})
		assert.Equal(t, http.StatusAccepted, known.Status)
		assert.Equal(t, http.StatusAccepted, unknown.Status)
		assert.Equal(t, string(known.Body), string(unknown.Body), "the answer does not tell")
		sent := e.sent()
		require.Len(t, sent, 1, "only the real account gets a link")
		assert.Equal(t, id, sent[0].UserID)
		assert.Equal(t, e.clock.Now().Add(30*time.Minute), sent[0].ExpiresAt)
		tok := sent[0].Token

		const next = "quiet meadow lantern"
		r := e.req("POST", "/api/v1/auth/password/reset", map[string]string{"token": tok, "newPassword": "password1234"})
		assert.Equal(t, http.StatusBadRequest, r.Status)
		assert.Contains(t, fields(t, r), "newPassword")

		r = e.req("POST", "/api/v1/auth/password/reset", map[string]string{"token": tok, "newPassword": next})
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		r = e.req("POST", "/api/v1/auth/password/reset", map[string]string{"token": tok, "newPassword": "another fine phrase"})
		assert.Equal(t, http.StatusBadRequest, r.Status, "single use")
		assert.Contains(t, fields(t, r), "token")

		r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": session.Refresh})
		assert.Equal(t, http.StatusUnauthorized, r.Status, "a reset revokes every session")
		e.login(patEmail, next)

		// Expiry: a token 30 minutes old is refused.
		e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": patEmail})
		sent = e.sent()
		require.Len(t, sent, 2)
		e.clock.Advance(30*time.Minute + time.Second)
		r = e.req("POST", "/api/v1/auth/password/reset", map[string]string{"token": sent[1].Token, "newPassword": "another fine phrase"})
		assert.Equal(t, http.StatusBadRequest, r.Status)

		// At most 3 links per 30 minutes; the answer stays the same.
		for i := 0; i < 5; i++ {
			r := e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": patEmail})
			assert.Equal(t, http.StatusAccepted, r.Status)
		}
		assert.Len(t, e.sent(), 5)
	})
}

func TestResetLiftsLoginBlock(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		for i := 0; i < 6; i++ {
			e.req("POST", "/api/v1/auth/login", map[string]string{"email": patEmail, "password": "attacker guess"},
				"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
		}
		r := e.req("POST", "/api/v1/auth/login", map[string]string{"email": patEmail, "password": patPass})
		require.Equal(t, http.StatusTooManyRequests, r.Status)
		e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": patEmail})
		tok := e.sent()[0].Token
		r = e.req("POST", "/api/v1/auth/password/reset", map[string]string{"token": tok, "newPassword": "quiet meadow lantern"})
		require.Equal(t, http.StatusNoContent, r.Status)
		e.login(patEmail, "quiet meadow lantern")
	})
}

func TestAdministration(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		admin := e.admin()
		as := bearer(admin.Access)

		r := e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "Dr.Who@Example.org", "password": "tardis blue box", "fullName": "Dr Who", "roles": []string{"DOCTOR"},
		}, as...)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		doc := r.JSON(t)
		docID := doc["id"].(string)
		assert.Equal(t, []any{"DOCTOR"}, doc["roles"])
		assert.Equal(t, "dr.who@example.org", doc["email"])

		r = e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "boss@example.org", "password": "chair of the board", "fullName": "Boss", "roles": []string{"ADMIN", "DOCTOR"},
		}, as...)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))

		for name, body := range map[string]any{
			"patient role": map[string]any{"email": "x@example.org", "password": "tardis blue box", "fullName": "X", "roles": []string{"PATIENT"}},
			"no roles":     map[string]any{"email": "x@example.org", "password": "tardis blue box", "fullName": "X", "roles": []string{}},
			"bad role":     map[string]any{"email": "x@example.org", "password": "tardis blue box", "fullName": "X", "roles": []string{"ROOT"}},
		} {
			r = e.req("POST", "/api/v1/auth/users", body, as...)
			assert.Equal(t, http.StatusBadRequest, r.Status, name)
			assert.Contains(t, fields(t, r), "roles", name)
		}
		r = e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "DR.WHO@example.org", "password": "tardis blue box", "fullName": "Dr Who", "roles": []string{"DOCTOR"},
		}, as...)
		assert.Equal(t, http.StatusConflict, r.Status)

		// Doctors log in with the password the admin set.
		drTok := e.login("dr.who@example.org", "tardis blue box")
		assert.Equal(t, []any{"DOCTOR"}, jwtClaims(t, drTok.Access)["roles"])

		// Patients register themselves; list and filter.
		for i := 0; i < 3; i++ {
			e.register(fmt.Sprintf("p%d@example.org", i), patPass, fmt.Sprintf("Patient %d", i))
		}
		r = e.req("GET", "/api/v1/auth/users", nil, as...)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Len(t, r.JSON(t)["items"], 6)
		assert.Equal(t, "", r.JSON(t)["nextCursor"])
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))

		var ids []string
		cursor := ""
		for page := 0; page < 5; page++ {
			r = e.req("GET", "/api/v1/auth/users?role=PATIENT&limit=2&cursor="+cursor, nil, as...)
			require.Equal(t, http.StatusOK, r.Status, string(r.Body))
			var p struct {
				Items []struct {
					ID    string   `json:"id"`
					Roles []string `json:"roles"`
				} `json:"items"`
				NextCursor string `json:"nextCursor"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &p))
			for _, it := range p.Items {
				assert.Equal(t, []string{"PATIENT"}, it.Roles)
				ids = append(ids, it.ID)
			}
			if p.NextCursor == "" {
				break
			}
			cursor = p.NextCursor
		}
		assert.Len(t, ids, 3)

		for name, q := range map[string]string{
			"limit 0": "?limit=0", "limit 101": "?limit=101", "limit text": "?limit=ten",
			"bad role": "?role=ROOT", "bad cursor": "?cursor=***", "forged cursor": "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("x' OR 1=1")),
		} {
			r = e.req("GET", "/api/v1/auth/users"+q, nil, as...)
			assert.Equal(t, http.StatusBadRequest, r.Status, name)
		}

		r = e.req("GET", "/api/v1/auth/users/"+docID, nil, as...)
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, `"1"`, r.Header.Get("ETag"))
		r = e.req("GET", "/api/v1/auth/users/not-a-uuid", nil, as...)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		r = e.req("GET", "/api/v1/auth/users/0190a4d2-0000-7000-8000-000000000001", nil, as...)
		assert.Equal(t, http.StatusNotFound, r.Status)

		// PATCH roles with If-Match.
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"roles": []string{"DOCTOR", "ADMIN"}},
			append(as, "If-Match", `"1"`)...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, []any{"ADMIN", "DOCTOR"}, r.JSON(t)["roles"])
		assert.EqualValues(t, 2, r.JSON(t)["version"])
		assert.Equal(t, `"2"`, r.Header.Get("ETag"))
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"roles": []string{"DOCTOR"}},
			append(as, "If-Match", `"1"`)...)
		assert.Equal(t, http.StatusPreconditionFailed, r.Status, "stale version")
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"roles": []string{"DOCTOR"}},
			append(as, "If-Match", `garbage`)...)
		assert.Equal(t, http.StatusBadRequest, r.Status)
		for name, body := range map[string]any{
			"empty":      map[string]any{},
			"bad role":   map[string]any{"roles": []string{"GOD"}},
			"no roles":   map[string]any{"roles": []string{}},
			"wrong type": map[string]any{"disabled": "yes"},
			"unknown":    map[string]any{"email": "new@example.org"},
		} {
			r = e.req("PATCH", "/api/v1/auth/users/"+docID, body, as...)
			assert.Equal(t, http.StatusBadRequest, r.Status, name)
		}
		r = e.req("PATCH", "/api/v1/auth/users/0190a4d2-0000-7000-8000-000000000001", map[string]any{"disabled": true}, as...)
		assert.Equal(t, http.StatusNotFound, r.Status)

		// Refresh picks up the new roles.
		r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": drTok.Refresh})
		require.Equal(t, http.StatusOK, r.Status)
		assert.Equal(t, []any{"ADMIN", "DOCTOR"}, jwtClaims(t, r.Str(t, "accessToken"))["roles"])
		drRefresh := r.Str(t, "refreshToken")

		// Disable: no login, no refresh.
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"disabled": true}, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, true, r.JSON(t)["disabled"])
		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": "dr.who@example.org", "password": "tardis blue box"})
		assert.Equal(t, http.StatusForbidden, r.Status)
		r = e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": drRefresh})
		assert.Contains(t, []int{http.StatusUnauthorized, http.StatusForbidden}, r.Status)
		// Its still-valid access token no longer opens administration or /me.
		r = e.req("GET", "/api/v1/auth/users", nil, bearer(drTok.Access)...)
		assert.Equal(t, http.StatusForbidden, r.Status)
		r = e.req("GET", "/api/v1/auth/me", nil, bearer(drTok.Access)...)
		assert.Equal(t, http.StatusForbidden, r.Status)

		// Enabling again lets them in.
		r = e.req("PATCH", "/api/v1/auth/users/"+docID, map[string]any{"disabled": false}, as...)
		require.Equal(t, http.StatusOK, r.Status)
		e.login("dr.who@example.org", "tardis blue box")

		// An administrator cannot lock themselves out.
		me := e.req("GET", "/api/v1/auth/me", nil, as...).Str(t, "id")
		r = e.req("PATCH", "/api/v1/auth/users/"+me, map[string]any{"disabled": true}, as...)
		assert.Equal(t, http.StatusConflict, r.Status)
		r = e.req("PATCH", "/api/v1/auth/users/"+me, map[string]any{"roles": []string{"DOCTOR"}}, as...)
		assert.Equal(t, http.StatusConflict, r.Status)
	})
}

func TestAdministrationForbiddenMatrix(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		admin := e.admin()
		pat := e.register(patEmail, patPass, "Pat")
		r := e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "doc@example.org", "password": "tardis blue box", "fullName": "Doc", "roles": []string{"DOCTOR"},
		}, bearer(admin.Access)...)
		require.Equal(t, http.StatusCreated, r.Status)
		patTok := e.login(patEmail, patPass)
		docTok := e.login("doc@example.org", "tardis blue box")

		calls := []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/auth/users", map[string]any{"email": "x@example.org", "password": "tardis blue box", "fullName": "X", "roles": []string{"ADMIN"}}},
			{"GET", "/api/v1/auth/users", nil},
			{"GET", "/api/v1/auth/users?role=ADMIN", nil},
			{"GET", "/api/v1/auth/users/" + pat, nil},
			{"GET", "/api/v1/auth/users/not-a-uuid", nil},
			{"PATCH", "/api/v1/auth/users/" + pat, map[string]any{"roles": []string{"ADMIN"}}},
		}
		for _, c := range calls {
			for who, tok := range map[string]string{"patient": patTok.Access, "doctor": docTok.Access} {
				r := e.req(c.method, c.path, c.body, bearer(tok)...)
				assert.Equal(t, http.StatusForbidden, r.Status, "%s %s %s", who, c.method, c.path)
				assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
			}
			r := e.req(c.method, c.path, c.body)
			assert.Equal(t, http.StatusUnauthorized, r.Status, "anonymous %s %s", c.method, c.path)
		}
		// Nothing changed.
		r = e.req("GET", "/api/v1/auth/users/"+pat, nil, bearer(admin.Access)...)
		assert.Equal(t, []any{"PATIENT"}, r.JSON(t)["roles"])

		// A token still claiming ADMIN after demotion is refused by the database check.
		other := e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "second@example.org", "password": "second admin here", "fullName": "Second", "roles": []string{"ADMIN"},
		}, bearer(admin.Access)...)
		require.Equal(t, http.StatusCreated, other.Status)
		second := e.login("second@example.org", "second admin here")
		r = e.req("PATCH", "/api/v1/auth/users/"+other.Str(t, "id"), map[string]any{"roles": []string{"DOCTOR"}}, bearer(admin.Access)...)
		require.Equal(t, http.StatusOK, r.Status)
		r = e.req("GET", "/api/v1/auth/users", nil, bearer(second.Access)...)
		assert.Equal(t, http.StatusForbidden, r.Status)
	})
}

func TestJWKSAndKeyRotation(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		before := e.login(patEmail, patPass)
		oldKID := jwtHeader(t, before.Access)["kid"].(string)

		r := e.req("GET", "/.well-known/jwks.json", nil)
		require.Equal(t, http.StatusOK, r.Status)
		keys := jwksKeys(t, r.Body)
		require.Len(t, keys, 1)
		assert.Equal(t, oldKID, keys[0]["kid"])
		assert.NotContains(t, keys[0], "d")
		assert.NotContains(t, string(r.Body), `"d"`)

		e.clock.Advance(time.Minute)
		nk, err := e.auth.Ring.Rotate(t.Context(), 0)
		require.NoError(t, err)
		after := e.login(patEmail, patPass)
		assert.Equal(t, nk.KID, jwtHeader(t, after.Access)["kid"], "the new key signs")
		assert.NotEqual(t, oldKID, nk.KID)

		keys = jwksKeys(t, e.req("GET", "/.well-known/jwks.json", nil).Body)
		var kids []string
		for _, k := range keys {
			kids = append(kids, k["kid"].(string))
			assert.NotContains(t, k, "d")
		}
		assert.ElementsMatch(t, []string{oldKID, nk.KID}, kids)

		for _, tok := range []string{before.Access, after.Access} {
			r := e.req("GET", "/api/v1/auth/me", nil, bearer(tok)...)
			assert.Equal(t, http.StatusOK, r.Status, "tokens of both keys verify")
		}

		// Once the old key's tokens have expired, the key leaves the JWKS.
		e.clock.Advance(e.auth.Config.KeyRetention)
		require.NoError(t, e.auth.Ring.Load(t.Context()))
		keys = jwksKeys(t, e.req("GET", "/.well-known/jwks.json", nil).Body)
		require.Len(t, keys, 1)
		assert.Equal(t, nk.KID, keys[0]["kid"])
	})
}

func TestBootstrap(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	e := newEnv(t, db)
	r := e.req("GET", "/api/v1/auth/users?role=ADMIN", nil, bearer(e.admin().Access)...)
	require.Len(t, r.JSON(t)["items"], 1, "the first administrator was created")
	created, err := e.auth.Bootstrap(t.Context(), adminEmail, "a different password")
	require.NoError(t, err)
	assert.False(t, created, "an existing account is left alone")
	e.admin() // the original password still works

	_, err = e.auth.Bootstrap(t.Context(), "root@example.org", "password1234")
	assert.Error(t, err, "a common password is refused")
	_, err = e.auth.Bootstrap(t.Context(), "root@example.org", "")
	assert.Error(t, err, "no default password")
	_, err = e.auth.Bootstrap(t.Context(), "not an email", "a fine long password")
	assert.Error(t, err)

	r = e.req("GET", "/api/v1/auth/me", nil, bearer(e.admin().Access)...)
	assert.Equal(t, []any{"ADMIN"}, r.JSON(t)["roles"])

	// An address someone registered first is not silently taken for the
	// administrator's.
	e.register("root@example.org", patPass, "Squatter")
	created, err = e.auth.Bootstrap(t.Context(), "Root@example.org", "a fine long password")
	assert.False(t, created)
	assert.ErrorIs(t, err, service.ErrBootstrapNotAdmin)
	r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": "root@example.org", "password": patPass})
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, []any{"PATIENT"}, jwtClaims(t, r.Str(t, "accessToken"))["roles"], "left unchanged")
}

// --- helpers ---

func fields(t *testing.T, r resp) []string {
	t.Helper()
	var p struct {
		Errors []struct {
			Field string `json:"field"`
		} `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &p), string(r.Body))
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func jwtPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func jwtHeader(t *testing.T, tok string) map[string]any { return jwtPart(t, tok, 0) }
func jwtClaims(t *testing.T, tok string) map[string]any { return jwtPart(t, tok, 1) }

// tamper changes the roles in the payload and keeps the signature.
func tamper(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	c := jwtClaims(t, tok)
	c["roles"] = []string{"ADMIN"}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
}

// unsigned re-encodes the token with alg "none" and no signature.
func unsigned(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	h := jwtHeader(t, tok)
	h["alg"] = "none"
	b, err := json.Marshal(h)
	require.NoError(t, err)
	return base64.RawURLEncoding.EncodeToString(b) + "." + parts[1] + "."
}

func jwksKeys(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	return doc.Keys
}

func TestConcurrentRefreshWithOneToken(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register(patEmail, patPass, "Pat")
		s := e.login(patEmail, patPass)
		const n = 6
		type result struct {
			status  int
			refresh string
		}
		results := make(chan result, n)
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			go func() {
				<-start
				r := e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": s.Refresh})
				res := result{status: r.Status}
				if r.Status == http.StatusOK {
					res.refresh = r.Str(t, "refreshToken")
				}
				results <- res
			}()
		}
		close(start)
		var ok []string
		for i := 0; i < n; i++ {
			r := <-results
			if r.status == http.StatusOK {
				ok = append(ok, r.refresh)
			} else {
				assert.Equal(t, http.StatusUnauthorized, r.status)
			}
		}
		require.Len(t, ok, 1, "a refresh token works exactly once, even under a race")
		r := e.req("POST", "/api/v1/auth/refresh", map[string]string{"refreshToken": ok[0]})
		assert.Equal(t, http.StatusUnauthorized, r.Status, "the replays revoked the family")
	})
}

type failingNotifier struct{}

func (failingNotifier) PasswordReset(context.Context, service.PasswordReset) error {
	return errors.New("mail server down")
}

func TestForgotAnswersTheSameWhenDeliveryFails(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	e := newEnv(t, db, func(c *wire.Config) { c.Notifier = failingNotifier{} })
	e.register(patEmail, patPass, "Pat")
	known := e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": patEmail})
	unknown := e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": "ghost@example.org"})
	assert.Equal(t, http.StatusAccepted, known.Status)
	assert.Equal(t, string(unknown.Body), string(known.Body))
}

func TestLoginUpgradesOldHashes(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	e := newEnv(t, db)
	id := e.register(patEmail, patPass, "Pat")
	before, err := e.auth.Store.Users().ByID(t.Context(), id)
	require.NoError(t, err)
	assert.Contains(t, before.PasswordHash, "m=64,t=1,p=1")

	// The same database served with a higher cost: the next login rehashes.
	stronger := password.Cheap
	stronger.Time = 3
	e2 := newEnv(t, db, func(c *wire.Config) { c.Hash.Params = stronger })
	e2.login(patEmail, patPass)
	after, err := e2.auth.Store.Users().ByID(t.Context(), id)
	require.NoError(t, err)
	assert.Contains(t, after.PasswordHash, "m=64,t=3,p=1")
	assert.Equal(t, before.Version+1, after.Version)
	e2.login(patEmail, patPass)
}
