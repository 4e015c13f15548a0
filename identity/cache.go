package identity

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// tokenCache remembers verified identities so that a token presented again
// is not verified again. It is keyed by the SHA-256 of the token (the cache
// holds no token as a key), bounded in size, and safe for concurrent use.
// A nil *tokenCache is a disabled cache: get misses and put does nothing.
//
// An entry is returned only strictly before its deadline, which the caller
// sets no later than the token's expiry. When the cache is full, put evicts
// the entry that expires first among a small sample (expired entries go
// first), which keeps put O(1) without the write-on-read of an LRU.
type tokenCache struct {
	size    int
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	id    *Identity
	until time.Time
}

// cacheEvictionSample is how many entries put examines to choose a victim.
const cacheEvictionSample = 8

// newTokenCache returns a cache of at most size entries, or nil (disabled)
// when size <= 0.
func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{size: size, entries: make(map[[sha256.Size]byte]cacheEntry)}
}

// get returns the identity cached for token if its deadline is after now.
// It allocates nothing.
func (c *tokenCache) get(token string, now time.Time) (*Identity, bool) {
	if c == nil {
		return nil, false
	}
	k := cacheKey(token)
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.id, true
}

// put caches id for token until the deadline (exclusive), which must not be
// later than the token's expiry. A zero deadline caches nothing. Putting a
// token again replaces its entry.
func (c *tokenCache) put(token string, id *Identity, until time.Time) {
	if c == nil || id == nil || until.IsZero() {
		return
	}
	k := cacheKey(token)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; !ok && len(c.entries) >= c.size {
		c.evictLocked()
	}
	c.entries[k] = cacheEntry{id: id, until: until}
}

// evictLocked removes the entry that expires first among a sample. Go's map
// iteration starts at a random position, so the sample moves around the
// map. c.mu is held for writing.
func (c *tokenCache) evictLocked() {
	var (
		victim [sha256.Size]byte
		first  time.Time
		n      int
	)
	for k, e := range c.entries {
		if n == 0 || e.until.Before(first) {
			victim, first = k, e.until
		}
		n++
		if n == cacheEvictionSample {
			break
		}
	}
	if n > 0 {
		delete(c.entries, victim)
	}
}

// cacheKey returns the SHA-256 of token, hashing the string's bytes in
// place: converting it to a []byte would allocate, and copying it to a
// stack buffer made every caller's goroutine grow its stack by the buffer
// (stacks are shrunk at each GC, so that cost came back again and again
// under load). sha256.Sum256 only reads its input.
func cacheKey(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}
