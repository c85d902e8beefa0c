package wire_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/throttle"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

const (
	patEmail = "pat@example.org"
	patPass  = "violet tram cupboard"
)

func TestRegisterLoginMe(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		r := e.req("POST", "/api/v1/auth/register", map[string]string{
			"email": "  Pat@Example.ORG ", "password": patPass, "fullName": "Pat Q",
		})
		require.Equal(t, http.StatusAccepted, r.Status, string(r.Body))
		assert.Equal(t, "accepted", r.Str(t, "status"))
		assert.NotContains(t, r.JSON(t), "id", "the answer says nothing an existing address would not")
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		fresh := r.Body

		// Same address in other case: the same answer, and the owner hears
		// of it; the account is left as it was.
		r = e.req("POST", "/api/v1/auth/register", map[string]string{
			"email": "PAT@example.org", "password": "another fine password", "fullName": "Pat Again",
		})
		assert.Equal(t, http.StatusAccepted, r.Status)
		assert.Equal(t, string(fresh), string(r.Body))
		require.NoError(t, e.auth.Wait(t.Context()))
		exists := e.mail.exists.all()
		require.Len(t, exists, 1)
		assert.Equal(t, "pat@example.org", exists[0].Email)

		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": "PAT@EXAMPLE.ORG", "password": patPass})
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		m := r.JSON(t)
		assert.Equal(t, "Bearer", m["tokenType"])
		assert.EqualValues(t, 900, m["expiresIn"])
		assert.EqualValues(t, 7*24*3600, m["refreshExpiresIn"])
		assert.Len(t, m["refreshToken"], 43, "256 random bits")
		assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
		assert.Equal(t, "no-cache", r.Header.Get("Pragma"), "tokens are not cached by HTTP/1.0 caches either (RFC 6749 5.1)")

		me := e.req("GET", "/api/v1/auth/me", nil, bearer(m["accessToken"].(string))...)
		require.Equal(t, http.StatusOK, me.Status, string(me.Body))
		u := me.JSON(t)
		assert.Equal(t, exists[0].UserID, u["id"])
		assert.Equal(t, "pat@example.org", u["email"], "stored normalized")
		assert.Equal(t, "Pat Q", u["fullName"])
		assert.Equal(t, []any{"PATIENT"}, u["roles"])
		assert.Equal(t, false, u["disabled"])
		assert.EqualValues(t, 1, u["version"])
		assert.NotContains(t, u, "passwordHash")
		assert.Equal(t, `"1"`, me.Header.Get("ETag"))
		assert.Equal(t, "no-store", me.Header.Get("Cache-Control"))
		created, err := time.Parse(time.RFC3339Nano, u["createdAt"].(string))
		require.NoError(t, err)
		assert.Equal(t, time.UTC, created.Location())

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
	eachEnv(t, func(t *testing.T, e *env) {
		tok := e.pat()
		for name, h := range map[string][]string{
			"none":     nil,
			"basic":    {"Authorization", "Basic cGF0OnB3"},
			"garbage":  bearer("not-a-jwt"),
			"tampered": bearer(tamper(t, tok.Access)),
			// Over the verifier's bound, under the server's header limit.
			"20 KB":    bearer(strings.Repeat("a", 20<<10)),
			"refresh":  bearer(tok.Refresh),
			"alg none": bearer(unsigned(t, tok.Access)),
		} {
			r := e.req("GET", "/api/v1/auth/me", nil, h...)
			assert.Equal(t, http.StatusUnauthorized, r.Status, name)
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), name)
		}
		// Headers past the service's 64 KiB bound are refused before any
		// token check, with a problem too.
		big := e.req("GET", "/api/v1/auth/me", nil, bearer(strings.Repeat("a", 100<<10))...)
		assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, big.Status)
		assert.Equal(t, "application/problem+json", big.Header.Get("Content-Type"))
		// Expired: 15 minutes and the leeway later.
		e.clock.Advance(16 * time.Minute)
		r := e.req("GET", "/api/v1/auth/me", nil, bearer(tok.Access)...)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
	})
}

func TestBadInputIsA4xxProblem(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
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
	eachEnv(t, func(t *testing.T, e *env) {
		e.register(patEmail, patPass, "Pat")
		wrong := e.req("POST", "/api/v1/auth/login", map[string]string{"email": patEmail, "password": "not the password"})
		unknown := e.req("POST", "/api/v1/auth/login", map[string]string{"email": "ghost@example.org", "password": "not the password"})
		require.Equal(t, http.StatusUnauthorized, wrong.Status)
		require.Equal(t, http.StatusUnauthorized, unknown.Status)
		assert.Equal(t, problemWithout(t, wrong), problemWithout(t, unknown))
		assert.Equal(t, wrong.Header.Get("WWW-Authenticate"), unknown.Header.Get("WWW-Authenticate"))
	})
}

func TestLoginThrottling(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		e.register(patEmail, patPass, "Pat")
		from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
		bad := map[string]string{"email": patEmail, "password": "guess guess guess"}
		good := map[string]string{"email": patEmail, "password": patPass}
		r := e.req("POST", "/api/v1/auth/login", good, from("198.51.100.10")...)
		require.Equal(t, http.StatusOK, r.Status, "the owner's usual address")

		// Per account: 5 free failures, from any address.
		for i := 0; i < 5; i++ {
			r := e.req("POST", "/api/v1/auth/login", bad, from(fmt.Sprintf("198.51.100.%d", i))...)
			require.Equal(t, http.StatusUnauthorized, r.Status)
		}
		r = e.req("POST", "/api/v1/auth/login", bad, from("198.51.100.9")...)
		require.Equal(t, http.StatusUnauthorized, r.Status, "the 6th failure is answered, then blocks")
		r = e.req("POST", "/api/v1/auth/login", good, from("198.51.100.9")...)
		assert.Equal(t, http.StatusTooManyRequests, r.Status, "an address that failed waits, even with the right password")
		assert.Equal(t, "1", r.Header.Get("Retry-After"))
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
		r = e.req("POST", "/api/v1/auth/login", good, from("198.51.100.12")...)
		assert.Equal(t, http.StatusTooManyRequests, r.Status, "so does an address the account never logged in from")
		r = e.req("POST", "/api/v1/auth/login", good, from("198.51.100.10")...)
		assert.Equal(t, http.StatusOK, r.Status, "the owner's usual address gets in")

		e.clock.Advance(time.Second)
		r = e.req("POST", "/api/v1/auth/login", bad, from("198.51.100.11")...)
		require.Equal(t, http.StatusUnauthorized, r.Status)
		r = e.req("POST", "/api/v1/auth/login", bad, from("198.51.100.11")...)
		assert.Equal(t, http.StatusTooManyRequests, r.Status)
		assert.Equal(t, "2", r.Header.Get("Retry-After"), "the window doubles")

		// The block expires: no permanent lockout; a success clears the
		// address's failures on the account.
		e.clock.Advance(2 * time.Second)
		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": patEmail, "password": patPass}, from("198.51.100.11")...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))

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
	untrusting := func(c *wire.Config) {
		c.TrustedProxies = nil
		c.ClientThrottle = throttle.Policy{Free: 2, Base: time.Minute, Max: time.Minute, Forget: time.Hour}
	}
	eachEnv(t, func(t *testing.T, e *env) {
		for i := 0; i < 3; i++ {
			r := e.req("POST", "/api/v1/auth/login",
				map[string]string{"email": fmt.Sprintf("n%d@example.org", i), "password": "guess guess"},
				"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
			require.Equal(t, http.StatusUnauthorized, r.Status)
		}
		r := e.req("POST", "/api/v1/auth/login", map[string]string{"email": "z@example.org", "password": "guess guess"},
			"X-Forwarded-For", "192.0.2.99")
		assert.Equal(t, http.StatusTooManyRequests, r.Status, "a spoofed header does not escape the peer's limit")
	}, untrusting)
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		first := e.pat()
		other := e.login(patEmail, patPass) // a second session, on another device

		r := e.refresh(first.Refresh)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		second := r.Str(t, "refreshToken")
		assert.NotEqual(t, first.Refresh, second, "rotated")
		assert.NotEmpty(t, r.Str(t, "accessToken"))

		// The first token again: theft is assumed, the family dies.
		r = e.refresh(first.Refresh)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		r = e.refresh(second)
		assert.Equal(t, http.StatusUnauthorized, r.Status, "the rotated token of the same family is revoked too")

		r = e.refresh(other.Refresh)
		assert.Equal(t, http.StatusOK, r.Status, "other sessions live on")

		for name, tok := range map[string]string{
			"empty": "", "short": "abc", "unknown": base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
			"access token": first.Access,
		} {
			r := e.refresh(tok)
			assert.Equal(t, http.StatusUnauthorized, r.Status, name)
		}
	})
}

func TestRefreshExpiresAndLogoutRevokes(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		s := e.pat()
		r := e.logout(s.Refresh)
		assert.Equal(t, http.StatusNoContent, r.Status)
		r = e.refresh(s.Refresh)
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		r = e.logout(s.Refresh)
		assert.Equal(t, http.StatusNoContent, r.Status, "idempotent")
		r = e.logout("unknown")
		assert.Equal(t, http.StatusNoContent, r.Status)

		s = e.login(patEmail, patPass)
		e.clock.Advance(7*24*time.Hour + time.Second)
		r = e.refresh(s.Refresh)
		assert.Equal(t, http.StatusUnauthorized, r.Status, "expired")
	})
}

func TestConcurrentRefreshWithOneToken(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		s := e.pat()
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
				r := e.refresh(s.Refresh)
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
		r := e.refresh(ok[0])
		assert.Equal(t, http.StatusUnauthorized, r.Status, "the replays revoked the family")
	})
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

// A fresh address sending its guesses at once, before any outcome is
// recorded, gets no more checked than its free allowance of 20: the rest
// wait (429) for the ones in flight.
func TestParallelGuessesCannotOutrunTheClientAllowance(t *testing.T) {
	e := newEnv(t, sqltest.SQLite(t, sqlstore.Migrations()), func(c *wire.Config) {
		c.Hash = password.HasherOptions{Params: password.OWASP, Workers: 2}
	})
	var checked, throttled atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 120; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.req("POST", "/api/v1/auth/login", map[string]string{
				"email": fmt.Sprintf("user%d@example.org", i/5), "password": fmt.Sprint("guess number ", i)},
				"X-Forwarded-For", "203.0.113.9")
			switch r.Status {
			case http.StatusUnauthorized:
				checked.Add(1)
			case http.StatusTooManyRequests:
				throttled.Add(1)
			default:
				t.Errorf("status %d: %s", r.Status, r.Body)
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, int(checked.Load()), throttle.DefaultClient.Free+1, "the allowance, and the one attempt that starts the block")
	assert.Equal(t, int32(120), checked.Load()+throttled.Load())
}

// An address padded with blanks past 254 bytes is refused as the document's
// maxLength says, before the throttle keeps anything: a key trimmed from it
// would otherwise be a slice pinning the whole padded string.
func TestAnAddressPaddedPastItsLengthIsRefusedAndLeavesNoThrottleKey(t *testing.T) {
	e := newEnv(t, sqltest.SQLite(t, sqlstore.Migrations()))
	padded := strings.Repeat(" ", 60<<10) + "nobody@example.org" // within the 64 KiB body limit
	r := e.req("POST", "/api/v1/auth/login", map[string]string{"email": padded, "password": "guess guess guess"})
	require.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
	assert.Equal(t, []string{"email"}, r.Fields(t))
	assert.Zero(t, e.auth.Throttle.Len(), "nothing is counted for a refused address")

	r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": "  nobody@example.org  ", "password": "guess guess guess"})
	require.Equal(t, http.StatusUnauthorized, r.Status, "blanks within the length are trimmed: %s", r.Body)
	assert.Equal(t, 1, e.auth.Throttle.Account.Len())
}
