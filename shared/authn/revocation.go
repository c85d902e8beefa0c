package authn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Revocation withdraws access tokens before they expire: every token of
// SessionID when it is set (a logout), otherwise every token of UserID
// issued before NotBefore (a password change, a disabled account). An entry
// matters only until the last token it can match expires (ExpiresAt), so
// the list a verifier holds stays bounded by the access-token lifetime.
type Revocation struct {
	SessionID string    `json:"sessionId,omitempty"`
	UserID    string    `json:"userId,omitempty"`
	NotBefore time.Time `json:"notBefore"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// RevocationPage is the body of the auth service's revocation feed: the
// entries after the index asked for, and the index to ask after next.
type RevocationPage struct {
	Index       uint64       `json:"index"`
	Revocations []Revocation `json:"revocations"`
}

// MaxRevocations bounds the entries a verifier holds. Auth lists only
// entries younger than the token lifetime, so this is never reached in
// practice; past it, entries are dropped down to revocationLowWater:
// sessions first, those that expire first, and users only when dropping
// every session is not enough, as a user's entry withdraws more (a
// password change, a disabled account) than one logout.
const MaxRevocations = 200_000

// revocationLowWater is what a list past MaxRevocations is cut down to:
// room for some Adds before the next cut, which orders every entry held,
// while every entry cut is a withdrawn token that works again.
const revocationLowWater = MaxRevocations - MaxRevocations/100

// RevocationList is the set of revocations a verifier applies. It is safe
// for concurrent use.
type RevocationList struct {
	mu       sync.RWMutex
	sessions map[string]time.Time    // session id -> forget after
	users    map[string][2]time.Time // user id -> {not before, forget after}
	now      func() time.Time
	cuts     int // times the list was cut down to revocationLowWater
}

// NewRevocationList returns an empty list; now is the clock (nil: time.Now).
func NewRevocationList(now func() time.Time) *RevocationList {
	if now == nil {
		now = time.Now
	}
	return &RevocationList{sessions: map[string]time.Time{}, users: map[string][2]time.Time{}, now: now}
}

// Add applies revocations.
func (l *RevocationList) Add(rs ...Revocation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, r := range rs {
		if !now.Before(r.ExpiresAt) {
			continue
		}
		switch {
		case r.SessionID != "":
			l.sessions[r.SessionID] = r.ExpiresAt
		case r.UserID != "":
			cur, ok := l.users[r.UserID]
			if !ok || r.NotBefore.After(cur[0]) {
				cur[0] = r.NotBefore
			}
			if r.ExpiresAt.After(cur[1]) {
				cur[1] = r.ExpiresAt
			}
			l.users[r.UserID] = cur
		}
	}
	if len(l.sessions)+len(l.users) > MaxRevocations {
		l.pruneLocked(now)
	}
}

// Revoked reports whether p, a token issued at p.IssuedAt, was withdrawn.
func (l *RevocationList) Revoked(p Principal) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if p.SessionID != "" {
		if _, ok := l.sessions[p.SessionID]; ok {
			return true
		}
	}
	if u, ok := l.users[p.UserID]; ok && p.IssuedAt.Before(u[0]) {
		return true
	}
	return false
}

// Len is the number of entries held.
func (l *RevocationList) Len() int {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return len(l.sessions) + len(l.users)
}

// Prune forgets entries whose tokens have all expired.
func (l *RevocationList) Prune() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(l.now())
}

func (l *RevocationList) pruneLocked(now time.Time) {
	for k, exp := range l.sessions {
		if !now.Before(exp) {
			delete(l.sessions, k)
		}
	}
	for k, u := range l.users {
		if !now.Before(u[1]) {
			delete(l.users, k)
		}
	}
	if len(l.sessions)+len(l.users) <= MaxRevocations {
		return
	}
	// Still over the bound: cut down to the low-water mark, so that the
	// next cut is many Adds away.
	l.cuts++
	over := len(l.sessions) + len(l.users) - revocationLowWater
	over -= dropEarliest(l.sessions, over, func(exp time.Time) time.Time { return exp })
	if over > 0 {
		dropEarliest(l.users, over, func(u [2]time.Time) time.Time { return u[1] })
	}
}

// dropEarliest deletes from m up to n entries, those whose expiry (read by
// expires) comes first, and reports how many it deleted.
func dropEarliest[V any](m map[string]V, n int, expires func(V) time.Time) int {
	if n >= len(m) {
		n = len(m)
		clear(m)
		return n
	}
	type held struct {
		key     string
		expires time.Time
	}
	all := make([]held, 0, len(m))
	for k, v := range m {
		all = append(all, held{k, expires(v)})
	}
	slices.SortFunc(all, func(a, b held) int { return a.expires.Compare(b.expires) })
	for _, h := range all[:n] {
		delete(m, h.key)
	}
	return n
}

// FollowOptions configure Follow.
type FollowOptions struct {
	// URL of the feed, e.g. http://auth/internal/revocations.
	URL string
	// Client makes the requests; its timeout must exceed Wait.
	Client *http.Client
	// Wait is how long the feed may hold a request open; default 30 s.
	Wait time.Duration
	// Retry is the pause after a failure; default 1 s.
	Retry time.Duration
	// OnError hears failures (for logging).
	OnError func(error)
}

// Follow keeps l up to date from the auth service's revocation feed with
// blocking queries, so a logout reaches every verifier within moments. It
// returns when ctx ends. While the feed cannot be read, the entries held
// keep applying and tokens keep their short lifetime as the bound.
func (l *RevocationList) Follow(ctx context.Context, o FollowOptions) {
	if o.Wait <= 0 {
		o.Wait = 30 * time.Second
	}
	if o.Retry <= 0 {
		o.Retry = time.Second
	}
	var index uint64
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for ctx.Err() == nil {
		select {
		case <-prune.C:
			l.Prune()
		default:
		}
		began := time.Now()
		page, err := fetchRevocations(ctx, o, index)
		if err == nil && page.Index == index && time.Since(began) < o.Retry/10 {
			// A feed that answers at once without progress (not holding the
			// request as it should) must not make this loop spin.
			err = errors.New("revocation feed answered at once without news")
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if o.OnError != nil {
				o.OnError(err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(o.Retry):
			}
			continue
		}
		if page.Index < index {
			index = 0 // auth restarted with a new index: read everything again
			continue
		}
		l.Add(page.Revocations...)
		index = page.Index
	}
}

func fetchRevocations(ctx context.Context, o FollowOptions, after uint64) (RevocationPage, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return RevocationPage{}, fmt.Errorf("revocation feed URL: %w", err)
	}
	q := u.Query()
	q.Set("after", strconv.FormatUint(after, 10))
	q.Set("wait", o.Wait.String())
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return RevocationPage{}, err
	}
	resp, err := o.Client.Do(req)
	if err != nil {
		return RevocationPage{}, fmt.Errorf("revocation feed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return RevocationPage{}, fmt.Errorf("revocation feed: status %d", resp.StatusCode)
	}
	var page RevocationPage
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&page); err != nil {
		return RevocationPage{}, fmt.Errorf("revocation feed: %w", err)
	}
	return page, nil
}
