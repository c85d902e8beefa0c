package authn_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/medisync/medisync/shared/authn"
	"github.com/medisync/medisync/shared/authn/authntest"
)

func TestRevocationList(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	l := authn.NewRevocationList(clock)
	l.Add(
		authn.Revocation{SessionID: "s1", NotBefore: now, ExpiresAt: now.Add(15 * time.Minute)},
		authn.Revocation{UserID: "u2", NotBefore: now, ExpiresAt: now.Add(15 * time.Minute)},
		authn.Revocation{SessionID: "old", NotBefore: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)},
	)
	assert.Equal(t, 2, l.Len(), "an entry whose tokens have all expired is not kept")

	assert.True(t, l.Revoked(authn.Principal{UserID: "u1", SessionID: "s1", IssuedAt: now.Add(-time.Minute)}))
	assert.False(t, l.Revoked(authn.Principal{UserID: "u1", SessionID: "s9", IssuedAt: now.Add(-time.Minute)}))
	assert.True(t, l.Revoked(authn.Principal{UserID: "u2", SessionID: "s2", IssuedAt: now.Add(-time.Second)}), "issued before the change")
	assert.False(t, l.Revoked(authn.Principal{UserID: "u2", SessionID: "s3", IssuedAt: now}), "issued at or after the change")

	now = now.Add(16 * time.Minute)
	l.Prune()
	assert.Equal(t, 0, l.Len(), "memory is bounded by the token lifetime")
}

// pastTheBound is a revocation list at a fixed time, and an add that fails
// the test if Add does not return.
func pastTheBound(t *testing.T) (l *authn.RevocationList, now time.Time, add func(...authn.Revocation)) {
	now = time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	l = authn.NewRevocationList(func() time.Time { return now })
	add = func(rs ...authn.Revocation) {
		t.Helper()
		done := make(chan struct{})
		go func() { defer close(done); l.Add(rs...) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Add did not return")
		}
	}
	return l, now, add
}

// Past MaxRevocations the list is cut down to its low-water mark: sessions
// go first, even those that expire after every user, then the users that
// expire first; and Add returns.
func TestRevocationListPastItsBoundDropsTheEarliestToExpire(t *testing.T) {
	l, now, add := pastTheBound(t)
	at := func(i int) time.Time { return now.Add(time.Minute + time.Duration(i)*time.Millisecond) }
	revoked := func(user, session string) bool {
		return l.Revoked(authn.Principal{UserID: user, SessionID: session, IssuedAt: now.Add(-time.Second)})
	}

	users := make([]authn.Revocation, authn.MaxRevocations+10)
	for i := range users {
		users[i] = authn.Revocation{UserID: "u" + strconv.Itoa(i), NotBefore: now, ExpiresAt: at(i)}
	}
	var sessions []authn.Revocation
	for i := range 5 {
		sessions = append(sessions, authn.Revocation{SessionID: "late" + strconv.Itoa(i), ExpiresAt: at(len(users) + i)})
	}
	add(append(sessions, users...)...)
	assert.Equal(t, authn.RevocationLowWater, l.Len())
	assert.False(t, revoked("", "late4"), "sessions go before users")
	// 15 over the bound, and then MaxRevocations-RevocationLowWater more:
	// the 5 sessions, and the users that expire first.
	firstKept := authn.MaxRevocations + 15 - authn.RevocationLowWater - len(sessions)
	assert.False(t, revoked("u"+strconv.Itoa(firstKept-1), ""), "among the first to expire")
	assert.True(t, revoked("u"+strconv.Itoa(firstKept), ""))
	assert.True(t, revoked("u"+strconv.Itoa(len(users)-1), ""))
}

// Users are dropped only when the sessions cannot make the room, whatever
// their expiry; and a list cut down refills to the bound before it is cut
// again, so Adds near the bound do not each order every entry held.
func TestRevocationListDropsSessionsFirstAndCutsRarely(t *testing.T) {
	l, now, add := pastTheBound(t)
	at := func(i int) time.Time { return now.Add(time.Minute + time.Duration(i)*time.Millisecond) }
	revoked := func(user, session string) bool {
		return l.Revoked(authn.Principal{UserID: user, SessionID: session, IssuedAt: now.Add(-time.Second)})
	}
	seq := 0
	sessions := func(n int) []authn.Revocation {
		rs := make([]authn.Revocation, n)
		for i := range rs {
			rs[i] = authn.Revocation{SessionID: "s" + strconv.Itoa(seq), ExpiresAt: at(authn.MaxRevocations + seq)}
			seq++
		}
		return rs
	}

	// Users that expire before every session, and sessions one past the bound.
	users := make([]authn.Revocation, authn.MaxRevocations/2)
	for i := range users {
		users[i] = authn.Revocation{UserID: "u" + strconv.Itoa(i), NotBefore: now, ExpiresAt: at(i)}
	}
	add(users...)
	add(sessions(authn.MaxRevocations - len(users) + 1)...)
	assert.Equal(t, 1, authn.RevocationCuts(l))
	assert.Equal(t, authn.RevocationLowWater, l.Len())
	assert.True(t, revoked("u0", ""), "the user expiring first is kept while sessions can go")
	assert.True(t, revoked("u"+strconv.Itoa(len(users)-1), ""))
	dropped := authn.MaxRevocations + 1 - authn.RevocationLowWater
	assert.False(t, revoked("", "s"+strconv.Itoa(dropped-1)), "the sessions that expire first go")
	assert.True(t, revoked("", "s"+strconv.Itoa(dropped)))

	// Refilled up to the bound: no cut.
	add(sessions(authn.MaxRevocations - authn.RevocationLowWater - 1)...)
	add(sessions(1)...)
	assert.Equal(t, authn.MaxRevocations, l.Len())
	assert.Equal(t, 1, authn.RevocationCuts(l), "Adds up to the bound do not cut again")

	// Past it: the next cut.
	add(sessions(1)...)
	assert.Equal(t, 2, authn.RevocationCuts(l))
	assert.Equal(t, authn.RevocationLowWater, l.Len())
	assert.True(t, revoked("u0", ""))
}

// feed is a blocking revocation feed like the auth service's.
type feed struct {
	mu      sync.Mutex
	entries []authn.Revocation
	changed chan struct{}
}

func newFeed() *feed { return &feed{changed: make(chan struct{})} }

func (f *feed) add(r authn.Revocation) {
	f.mu.Lock()
	f.entries = append(f.entries, r)
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func (f *feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	after, _ := strconv.Atoi(r.URL.Query().Get("after"))
	wait, _ := time.ParseDuration(r.URL.Query().Get("wait"))
	f.mu.Lock()
	ch := f.changed
	n := len(f.entries)
	f.mu.Unlock()
	if n <= after {
		select {
		case <-ch:
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		}
	}
	f.mu.Lock()
	page := authn.RevocationPage{Index: uint64(len(f.entries)), Revocations: append([]authn.Revocation{}, f.entries[min(after, len(f.entries)):]...)}
	f.mu.Unlock()
	_ = json.NewEncoder(w).Encode(page)
}

// A logout reaches a verifier that follows the feed within moments, also for
// a token it had already verified and cached.
func TestFollowRevokesCachedTokensQuickly(t *testing.T) {
	iss := authntest.NewIssuer(t)
	f := newFeed()
	srv := httptest.NewServer(f)
	defer srv.Close()
	list := authn.NewRevocationList(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go list.Follow(ctx, authn.FollowOptions{URL: srv.URL, Client: &http.Client{Timeout: 10 * time.Second}, Wait: 5 * time.Second})

	keys := func(context.Context) jwt.Keyfunc { return func(*jwt.Token) (any, error) { return iss.Public, nil } }
	v := authn.NewVerifier(keys, authn.Config{Revocations: list})
	sign := func(sid string) string {
		c := validClaims()
		c["sid"] = sid
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims(c))
		tok.Header["kid"] = iss.KID
		s, err := tok.SignedString(iss.Private)
		require.NoError(t, err)
		return s
	}
	mine, theirs := sign("session-1"), sign("session-2")
	p, err := v.Verify(ctx, mine)
	require.NoError(t, err)
	assert.Equal(t, "session-1", p.SessionID)

	time.Sleep(50 * time.Millisecond) // let the follower block on the feed
	start := time.Now()
	f.add(authn.Revocation{SessionID: "session-1", NotBefore: time.Now(), ExpiresAt: time.Now().Add(15 * time.Minute)})
	require.Eventually(t, func() bool {
		_, err := v.Verify(ctx, mine)
		return err != nil
	}, 2*time.Second, 5*time.Millisecond)
	assert.Less(t, time.Since(start), time.Second, "the blocking query carries the revocation at once")
	_, err = v.Verify(ctx, mine)
	assert.ErrorIs(t, err, authn.ErrRevoked)
	assert.ErrorIs(t, err, authn.ErrInvalidToken, "a revoked token is a 401 like any invalid one")
	_, err = v.Verify(ctx, theirs)
	assert.NoError(t, err, "another session is untouched")
}

// A feed that answers at once without news (not holding requests) is asked
// again only after a pause, not in a tight loop.
func TestFollowDoesNotSpinOnAFeedThatDoesNotBlock(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		_ = json.NewEncoder(w).Encode(authn.RevocationPage{Index: 0})
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	authn.NewRevocationList(nil).Follow(ctx, authn.FollowOptions{URL: srv.URL, Client: srv.Client(), Retry: 100 * time.Millisecond})
	assert.LessOrEqual(t, calls.Load(), int32(8), "asked %d times in half a second", calls.Load())
}

// Two revocations of one user (two password changes) keep the later cut-off
// and the later expiry, in whichever order they arrive: a token issued
// between the two changes is refused until the last token the second can
// match has expired.
func TestRevocationsOfOneUserKeepTheLaterCutOffAndExpiry(t *testing.T) {
	now := time.Date(2027, 1, 1, 12, 0, 0, 0, time.UTC)
	first := authn.Revocation{UserID: "u1", NotBefore: now.Add(-10 * time.Minute), ExpiresAt: now.Add(5 * time.Minute)}
	second := authn.Revocation{UserID: "u1", NotBefore: now, ExpiresAt: now.Add(15 * time.Minute)}
	between := authn.Principal{UserID: "u1", IssuedAt: now.Add(-time.Minute)}
	for name, order := range map[string][]authn.Revocation{"in order": {first, second}, "reversed": {second, first}} {
		clock := now
		l := authn.NewRevocationList(func() time.Time { return clock })
		for _, r := range order {
			l.Add(r)
		}
		assert.True(t, l.Revoked(between), name)
		assert.False(t, l.Revoked(authn.Principal{UserID: "u1", IssuedAt: now}), name)

		clock = now.Add(6 * time.Minute)
		l.Prune()
		assert.True(t, l.Revoked(between), "%s: kept past the first's expiry", name)
		clock = now.Add(15 * time.Minute)
		l.Prune()
		assert.Equal(t, 0, l.Len(), name)
	}
}

// switchableFeed serves the feed it currently holds, as auth does across a
// restart.
type switchableFeed struct{ cur atomic.Pointer[feed] }

func (s *switchableFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.cur.Load().ServeHTTP(w, r)
}

// An auth restarted with a new index (lower than the one held) is read
// again from the start, so the revocations it lists after its restart reach
// the verifier.
func TestFollowReadsAgainFromTheStartWhenTheIndexGoesBack(t *testing.T) {
	before := newFeed()
	for i := range 5 {
		before.add(authn.Revocation{SessionID: "old-" + strconv.Itoa(i), ExpiresAt: time.Now().Add(15 * time.Minute)})
	}
	src := &switchableFeed{}
	src.cur.Store(before)
	srv := httptest.NewServer(src)
	defer srv.Close()
	list := authn.NewRevocationList(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go list.Follow(ctx, authn.FollowOptions{URL: srv.URL, Client: &http.Client{Timeout: 5 * time.Second}, Wait: 100 * time.Millisecond})
	require.Eventually(t, func() bool { return list.Len() == 5 }, 3*time.Second, 5*time.Millisecond)

	after := newFeed()
	after.add(authn.Revocation{SessionID: "new", ExpiresAt: time.Now().Add(15 * time.Minute)})
	src.cur.Store(after)
	assert.Eventually(t, func() bool { return list.Revoked(authn.Principal{SessionID: "new"}) }, 3*time.Second, 5*time.Millisecond,
		"the entry listed after the restart never arrived")
}
