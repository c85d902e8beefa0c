package authn

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCache remembers tokens that passed verification until they expire,
// so a client presenting the same token again costs a hash and a map lookup
// instead of a signature check. Keys are SHA-256 digests, so memory per entry
// stays small whatever the token size. Each entry carries the generation of
// the key set it was verified under: once the keys change, an entry of an
// earlier generation is a miss, so that a token whose key was withdrawn is
// checked against the keys held now rather than passing from memory.
type verifiedCache struct {
	mu      sync.RWMutex
	max     int
	entries map[[32]byte]verified
}

type verified struct {
	p       Principal
	keysGen uint64
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, entries: make(map[[32]byte]verified, max)}
}

func (c *verifiedCache) get(raw string, now time.Time, keysGen uint64) (Principal, bool) {
	key := sha256.Sum256([]byte(raw))
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok {
		return Principal{}, false
	}
	if !now.Before(e.p.ExpiresAt) || e.keysGen != keysGen {
		c.mu.Lock()
		delete(c.entries, key)
		c.mu.Unlock()
		return Principal{}, false
	}
	return e.p, true
}

// put remembers p, verified under the key set of generation keysGen, until
// its expiry.
func (c *verifiedCache) put(raw string, p Principal, now time.Time, keysGen uint64) {
	if p.ExpiresAt.IsZero() {
		return
	}
	key := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Drop expired entries and those of earlier key sets, then, if still
		// full, an arbitrary quarter: map iteration order is random, which
		// makes this random eviction.
		for k, e := range c.entries {
			if !now.Before(e.p.ExpiresAt) || e.keysGen != keysGen {
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
	c.entries[key] = verified{p: p, keysGen: keysGen}
}

func (c *verifiedCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
