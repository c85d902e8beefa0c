package wire_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/auth/password"
	"github.com/medisync/medisync/auth/service"
	"github.com/medisync/medisync/auth/wire"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

func TestChangePassword(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		s1 := e.pat()
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
			r = e.refresh(old)
			assert.Equal(t, http.StatusUnauthorized, r.Status, "every other session is revoked")
		}
		r = e.refresh(fresh)
		assert.Equal(t, http.StatusOK, r.Status, "the caller's new session works")

		r = e.req("POST", "/api/v1/auth/login", map[string]string{"email": patEmail, "password": patPass})
		assert.Equal(t, http.StatusUnauthorized, r.Status)
		e.login(patEmail, next)
	})
}

func TestChangePasswordVoidsResetLinks(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		s := e.pat()
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
	eachEnv(t, func(t *testing.T, e *env) {
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

		r = e.refresh(session.Refresh)
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
	eachEnv(t, func(t *testing.T, e *env) {
		e.register(patEmail, patPass, "Pat")
		// The owner mistypes until the account and their address are blocked.
		for i := 0; i < 6; i++ {
			e.req("POST", "/api/v1/auth/login", map[string]string{"email": patEmail, "password": "mistyped phrase"})
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

type failingNotifier struct{}

func (failingNotifier) PasswordReset(context.Context, service.PasswordReset) error {
	return errors.New("mail server down")
}

func (failingNotifier) AccountExists(context.Context, service.AccountExists) error {
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

// Two resets and a change of one user's password at once take the user's
// row in one order, so none deadlocks (a 500) and none finds the account
// changed under it (a 409): each either applies or is refused as a client
// error.
func TestResetsAndChangeAtOnceNeitherFailNorConflict(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		allowed := map[string][]int{
			"reset": {http.StatusNoContent, http.StatusBadRequest},
			// 401: a reset committed first revoked the caller's token.
			"change": {http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized},
		}
		for i := 0; i < 10; i++ {
			email := fmt.Sprintf("u%d@example.org", i)
			e.register(email, patPass, "U")
			s := e.login(email, patPass)
			before := len(e.sent())
			e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": email})
			e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": email})
			sent := e.sent()[before:]
			require.Len(t, sent, 2)
			var wg sync.WaitGroup
			check := func(kind string, r resp) {
				defer wg.Done()
				assert.Contains(t, allowed[kind], r.Status, "%s: %s", kind, r.Body)
			}
			wg.Add(3)
			for j, pw := range []string{"another fine phrase", "yet another phrase"} {
				go func() {
					check("reset", e.req("POST", "/api/v1/auth/password/reset",
						map[string]string{"token": sent[j].Token, "newPassword": pw}))
				}()
			}
			go func() {
				check("change", e.req("POST", "/api/v1/auth/password/change",
					map[string]string{"currentPassword": patPass, "newPassword": "quiet meadow lantern"}, bearer(s.Access)...))
			}()
			wg.Wait()
		}
	})
}

// A reset link of a disabled account answers like any dead link (400
// naming token), and disabling voids it for good: enabling the account
// again does not bring it back.
func TestDisablingVoidsResetLinks(t *testing.T) {
	e := newEnv(t, sqltest.SQLite(t, sqlstore.Migrations()))
	id := e.register(patEmail, patPass, "Pat")
	e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": patEmail})
	sent := e.sent()
	require.Len(t, sent, 1)
	admin := e.admin()
	r := e.req("PATCH", "/api/v1/auth/users/"+id, map[string]any{"disabled": true}, bearer(admin.Access)...)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	reset := func() resp {
		return e.req("POST", "/api/v1/auth/password/reset", map[string]string{"token": sent[0].Token, "newPassword": "another fine phrase"})
	}
	r = reset()
	assert.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
	assert.Contains(t, fields(t, r), "token")

	r = e.req("PATCH", "/api/v1/auth/users/"+id, map[string]any{"disabled": false}, bearer(admin.Access)...)
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	r = reset()
	assert.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
	assert.Contains(t, fields(t, r), "token")
	e.login(patEmail, patPass)
}

// The same password typed in another Unicode form opens the account:
// passwords are checked and hashed in NFKC, so one registered precomposed
// (NFC, "é" = U+00E9, as most keyboards send it) logs in typed decomposed
// (NFD, "e" + U+0301, as some input methods send it), and the other way
// round. A hash of a password as typed, written before passwords were
// normalized, still verifies with that form and is then replaced by the
// hash of the NFKC form, after which either form logs in.
func TestAPasswordTypedInAnotherUnicodeFormLogsIn(t *testing.T) {
	const nfc = "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e"     // café crème brûlée
	const nfd = "cafe\u0301 cre\u0300me bru\u0302le\u0301e" // the same text, decomposed
	login := func(e *env, email, pw string) int {
		return e.req("POST", "/api/v1/auth/login", map[string]string{"email": email, "password": pw}).Status
	}
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db)
		e.register("camille@example.org", nfc, "Camille")
		assert.Equal(t, http.StatusOK, login(e, "camille@example.org", nfc))
		assert.Equal(t, http.StatusOK, login(e, "camille@example.org", nfd), "registered NFC, typed NFD")
		e.register("dominique@example.org", nfd, "Dominique")
		assert.Equal(t, http.StatusOK, login(e, "dominique@example.org", nfc), "registered NFD, typed NFC")

		ctx := context.Background()
		p := password.Cheap
		salt := []byte("sixteen byte salt")[:p.SaltLen]
		b64 := base64.RawStdEncoding
		legacy := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
			b64.EncodeToString(salt), b64.EncodeToString(argon2.IDKey([]byte(nfd), salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)))
		_, err := db.ExecContext(ctx, "UPDATE users SET password_hash = ? WHERE email = ?", legacy, "dominique@example.org")
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, login(e, "dominique@example.org", nfd), "a hash of the password as typed verifies")
		var stored string
		require.NoError(t, db.QueryRowContext(ctx, "SELECT password_hash FROM users WHERE email = ?", "dominique@example.org").Scan(&stored))
		assert.NotEqual(t, legacy, stored, "and is replaced")
		assert.Equal(t, http.StatusOK, login(e, "dominique@example.org", nfc), "by the hash of the NFKC form")
		assert.Equal(t, http.StatusUnauthorized, login(e, "dominique@example.org", "cafe creme brulee"))
	})
}

// A "new" password that is the current one typed in another Unicode form is
// the current password: refused, not a change that revokes the other sessions.
func TestANewPasswordThatIsTheCurrentInAnotherUnicodeFormIsRefused(t *testing.T) {
	const nfc = "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e"     // café crème brûlée
	const nfd = "cafe\u0301 cre\u0300me bru\u0302le\u0301e" // the same text, decomposed
	eachEnv(t, func(t *testing.T, e *env) {
		e.register("camille@example.org", nfc, "Camille")
		s := e.login("camille@example.org", nfc)
		r := e.req("POST", "/api/v1/auth/password/change",
			map[string]string{"currentPassword": nfc, "newPassword": nfd}, bearer(s.Access)...)
		assert.Equal(t, http.StatusBadRequest, r.Status, string(r.Body))
		assert.Contains(t, fields(t, r), "newPassword")
	})
}
