package wire_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/auth/adapter/sqlstore"
	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/sqldb"
	"github.com/medisync/medisync/shared/sqldb/sqltest"
)

// withdrawn asserts that tok stops opening /me within 2 s.
func (e *env) withdrawn(tok, why string) {
	e.t.Helper()
	assert.Eventually(e.t, func() bool {
		return e.req("GET", "/api/v1/auth/me", nil, bearer(tok)...).Status == http.StatusUnauthorized
	}, 2*time.Second, 20*time.Millisecond, why)
}

func (e *env) feed(after uint64, wait string) authn.RevocationPage {
	e.t.Helper()
	r := e.req("GET", fmt.Sprintf("/internal/revocations?after=%d&wait=%s", after, wait), nil)
	require.Equal(e.t, http.StatusOK, r.Status, string(r.Body))
	var p authn.RevocationPage
	require.NoError(e.t, json.Unmarshal(r.Body, &p))
	return p
}

// held asks e's feed for the revocations after index, letting the server
// hold the request up to 8 s, and hands over the answer when it comes.
func (e *env) held(index uint64) <-chan authn.RevocationPage {
	answered := make(chan authn.RevocationPage, 1)
	go func() {
		r, err := http.Get(fmt.Sprintf("%s/internal/revocations?after=%d&wait=8s", e.srv.URL, index))
		if !assert.NoError(e.t, err) {
			return
		}
		defer r.Body.Close()
		var p authn.RevocationPage
		assert.NoError(e.t, json.NewDecoder(r.Body).Decode(&p))
		answered <- p
	}()
	return answered
}

func TestAccessTokensAreWithdrawnAtOnce(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		id := e.register(patEmail, patPass, "Pat")
		me := func(tok string) int { return e.req("GET", "/api/v1/auth/me", nil, bearer(tok)...).Status }

		// Logout.
		s := e.login(patEmail, patPass)
		sid, _ := jwtClaims(t, s.Access)["sid"].(string)
		require.NotEmpty(t, sid, "the token names its sign-in session")
		require.Equal(t, http.StatusOK, me(s.Access))
		r := e.refresh(s.Refresh)
		require.Equal(t, http.StatusOK, r.Status)
		refreshed := r.Str(t, "accessToken")
		assert.Equal(t, sid, jwtClaims(t, refreshed)["sid"], "a refresh stays in the session")
		other := e.login(patEmail, patPass)
		assert.NotEqual(t, sid, jwtClaims(t, other.Access)["sid"])
		require.Equal(t, http.StatusNoContent, e.logout(r.Str(t, "refreshToken")).Status)
		e.withdrawn(s.Access, "logout withdraws the session's tokens")
		e.withdrawn(refreshed, "all of them")
		assert.Equal(t, http.StatusOK, me(other.Access), "other sessions go on")
		page := e.feed(0, "0s")
		require.Len(t, page.Revocations, 1)
		assert.Equal(t, sid, page.Revocations[0].SessionID, "the feed tells the other verifiers")
		assert.Equal(t, e.clock.Now().Add(authn.DefaultMaxLifetime+30*time.Second), page.Revocations[0].ExpiresAt,
			"listed while a token of the session can pass: the longest lifetime a verifier accepts, whatever this instance's, and the verifiers' leeway")

		// Password change: every older token goes, the new pair works.
		a, b := e.login(patEmail, patPass), e.login(patEmail, patPass)
		const next = "quiet meadow lantern"
		r = e.req("POST", "/api/v1/auth/password/change",
			map[string]string{"currentPassword": patPass, "newPassword": next}, bearer(a.Access)...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		fresh := r.Str(t, "accessToken")
		e.withdrawn(a.Access, "password change, the session that made it")
		e.withdrawn(b.Access, "password change, another session")
		e.withdrawn(other.Access, "password change, an older session")
		assert.Equal(t, http.StatusOK, me(fresh), "a token issued in the same second after the change is good")
		user := e.feed(page.Index, "0s").Revocations
		require.NotEmpty(t, user)
		last := user[len(user)-1]
		assert.Equal(t, id, last.UserID)
		assert.Equal(t, e.clock.Now().Truncate(time.Second), last.NotBefore)

		// Password reset.
		e.clock.Advance(2 * time.Second)
		c := e.login(patEmail, next)
		e.req("POST", "/api/v1/auth/password/forgot", map[string]string{"email": patEmail})
		sent := e.sent()
		require.Len(t, sent, 1)
		r = e.req("POST", "/api/v1/auth/password/reset", map[string]string{"token": sent[0].Token, "newPassword": patPass})
		require.Equal(t, http.StatusNoContent, r.Status, string(r.Body))
		e.withdrawn(c.Access, "password reset")
		e.withdrawn(fresh, "password reset, the token of the change")

		// Roles changed: tokens with the old roles go.
		e.clock.Advance(2 * time.Second)
		d := e.login(patEmail, patPass)
		as := bearer(e.admin().Access)
		e.clock.Advance(2 * time.Second)
		r = e.req("PATCH", "/api/v1/auth/users/"+id, map[string]any{"roles": []string{"DOCTOR", "PATIENT"}}, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		e.withdrawn(d.Access, "roles changed")
		e.clock.Advance(time.Second) // the change's second is withdrawn whole
		d = e.login(patEmail, patPass)
		assert.Equal(t, []any{"DOCTOR", "PATIENT"}, jwtClaims(t, d.Access)["roles"])
		assert.Equal(t, http.StatusOK, me(d.Access))

		// Disabled, even in the same second as the last sign-in.
		r = e.req("PATCH", "/api/v1/auth/users/"+id, map[string]any{"disabled": true}, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		e.withdrawn(d.Access, "account disabled")
	})
}

func TestRevocationFeedHoldsARequestUntilALogout(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		s := e.pat()
		index := e.feed(0, "0s").Index

		answered := e.held(index)
		select {
		case <-answered:
			t.Fatal("answered while nothing was newer")
		case <-time.After(300 * time.Millisecond):
		}
		require.Equal(t, http.StatusNoContent, e.logout(s.Refresh).Status)
		loggedOut := time.Now()
		select {
		case p := <-answered:
			assert.Less(t, time.Since(loggedOut), 100*time.Millisecond, "answered as the logout committed")
			require.Len(t, p.Revocations, 1)
			assert.Equal(t, jwtClaims(t, s.Access)["sid"], p.Revocations[0].SessionID)
			assert.Greater(t, p.Index, index)
		case <-time.After(2 * time.Second):
			t.Fatal("the held request was not answered")
		}
	})
}

func TestRevocationFeedHearsOtherInstancesOnTheDatabase(t *testing.T) {
	sqltest.Each(t, sqlstore.Migrations(), func(t *testing.T, db *sqldb.DB) {
		one, two := newEnv(t, db), newEnv(t, db)
		s := one.pat()
		index := two.feed(0, "0s").Index
		answered := two.held(index)
		time.Sleep(100 * time.Millisecond)
		require.Equal(t, http.StatusNoContent, one.logout(s.Refresh).Status)
		select {
		case p := <-answered:
			require.Len(t, p.Revocations, 1, "the held request read the database again")
		case <-time.After(2500 * time.Millisecond):
			t.Fatal("a logout on another instance did not reach the held request")
		}
	})
}

func TestRevocationFeedQuery(t *testing.T) {
	db := sqltest.SQLite(t, sqlstore.Migrations())
	e := newEnv(t, db)
	// An index above the newest entry's was never reached by this database
	// (a restore, a recreated file): the feed answers its newest (here none,
	// 0) so that the follower reads it again from the start.
	p := e.feed(41, "0s")
	assert.Equal(t, uint64(0), p.Index, "an index the feed never reached: the newest")
	assert.NotNil(t, p.Revocations, "an empty list, not null")
	r := e.req("GET", "/internal/revocations?wait=0s", nil)
	assert.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "no-store", r.Header.Get("Cache-Control"))
	for q, field := range map[string]string{
		"after=-1":                  "after",
		"after=x":                   "after",
		"after=9223372036854775808": "after",
		"wait=soon":                 "wait",
		"wait=-1s":                  "wait",
		"after=1&wait=30":           "wait",
		"after=":                    "after",
		"after=5&after=0":           "after",
		"wait=1s&wait=1s":           "wait",
	} {
		r := e.req("GET", "/internal/revocations?"+q, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, q)
		assert.Equal(t, []string{field}, fields(t, r), q)
	}
	assert.Equal(t, http.StatusMethodNotAllowed, e.req("POST", "/internal/revocations", nil).Status)
	assert.Equal(t, http.StatusNotFound, e.req("GET", "/api/v1/auth/revocations", nil).Status, "not under /api/v1, which the gateway routes")
}

// iat has second resolution: a role change withdraws every token of its
// second, those issued earlier in it with the old roles included. A refresh
// in a later second gets a token with the new roles.
func TestRoleChangeWithdrawsTheTokensOfItsSecond(t *testing.T) {
	eachEnv(t, func(t *testing.T, e *env) {
		as := bearer(e.admin().Access)
		r := e.req("POST", "/api/v1/auth/users", map[string]any{
			"email": "eve@medisync.test", "password": "purple otter machine", "fullName": "Eve", "roles": []string{"ADMIN"},
		}, as...)
		require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
		id := r.Str(t, "id")
		e.clock.Advance(2300 * time.Millisecond) // into a fresh second
		eve := e.login("eve@medisync.test", "purple otter machine")
		require.Equal(t, []any{"ADMIN"}, jwtClaims(t, eve.Access)["roles"])
		e.clock.Advance(400 * time.Millisecond) // the same second, after the login
		r = e.req("PATCH", "/api/v1/auth/users/"+id, map[string]any{"roles": []string{"PATIENT"}}, as...)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		e.withdrawn(eve.Access, "the ADMIN token issued before the demotion, in its second")

		e.clock.Advance(time.Second)
		r = e.refresh(eve.Refresh)
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		next := r.Str(t, "accessToken")
		assert.Equal(t, []any{"PATIENT"}, jwtClaims(t, next)["roles"])
		assert.Equal(t, http.StatusOK, e.req("GET", "/api/v1/auth/me", nil, bearer(next)...).Status)
	})
}

// A verifier follows the feed at index N; auth's database then comes back
// with a lower head (restored from a backup, the SQLite file made anew).
// The feed answers its newest index at once, the follower reads it again
// from 0, and the revocations written since, whose indexes are at or below
// N, reach it.
func TestAFollowerSeesRevocationsAfterTheFeedIndexWentBack(t *testing.T) {
	before := newEnv(t, sqltest.SQLite(t, sqlstore.Migrations()))
	var target atomic.Pointer[url.URL]
	u, _ := url.Parse(before.srv.URL)
	target.Store(u)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httputil.NewSingleHostReverseProxy(target.Load()).ServeHTTP(w, r)
	}))
	defer proxy.Close()

	// Three logouts: the feed's index is 3.
	before.register(patEmail, patPass, "Pat")
	for range 3 {
		require.Equal(t, http.StatusNoContent, before.logout(before.login(patEmail, patPass).Refresh).Status)
	}
	list := authn.NewRevocationList(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go list.Follow(ctx, authn.FollowOptions{URL: proxy.URL + "/internal/revocations", Client: &http.Client{Timeout: 30 * time.Second}, Wait: 2 * time.Second})
	require.Eventually(t, func() bool { return list.Len() == 3 }, 5*time.Second, 20*time.Millisecond)

	// The database comes back without those three (here: a new one).
	after := newEnv(t, sqltest.SQLite(t, sqlstore.Migrations()))
	u, _ = url.Parse(after.srv.URL)
	target.Store(u)
	after.register(patEmail, patPass, "Pat")
	s := after.login(patEmail, patPass)
	require.Equal(t, http.StatusNoContent, after.logout(s.Refresh).Status)
	sid := jwtClaims(t, s.Access)["sid"].(string)

	require.Eventually(t, func() bool { return list.Revoked(authn.Principal{SessionID: sid}) }, 8*time.Second, 50*time.Millisecond,
		"the logout written after the index went back never reached the verifier")
}
