package authn

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCache remembers tokens that passed verification until they expire,
// so a client presenting the same token again costs a hash and a map lookup
// instead of a signature check. Keys are SHA-256 digests, so memory per entry
// stays small whatever the token size.
type verifiedCache struct {
	mu      sync.RWMutex
	max     int
	entries map[[32]byte]Principal
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, entries: make(map[[32]byte]Principal, max)}
}

func (c *verifiedCache) get(raw string, now time.Time) (Principal, bool) {
	key := sha256.Sum256([]byte(raw))
	c.mu.RLock()
	p, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok {
		return Principal{}, false
	}
	if !now.Before(p.ExpiresAt) {
		c.mu.Lock()
		delete(c.entries, key)
		c.mu.Unlock()
		return Principal{}, false
	}
	return p, true
}

func (c *verifiedCache) put(raw string, p Principal, now time.Time) {
	if p.ExpiresAt.IsZero() {
		return
	}
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Drop expired entries, then, if still full, an arbitrary quarter:
		// map iteration order is random, which makes this random eviction.
		for k, e := range c.entries {
			if !now.Before(e.ExpiresAt) {
				delete(c.entries, k)
			}
		}
		drop := len(c.entries) - c.max*3/4
		for k := range c.entries {
			if drop <= 0 {
				break
			}
			delete(c.entries, k)
			drop--
		}
	}
	c.entries[key] = p
}

func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
