package proxy

import (
	"context"
	"sync"
	"time"
)

// tokenKey identifies a cached backend token: the SHA-256 of the user's
// token. The raw user token is never kept as a key.
type tokenKey [32]byte

// cachedToken is a backend token and the time it stops being handed out
// (its expiry minus the configured minimum remaining lifetime).
type cachedToken struct {
	token   string
	useTill time.Time
}

// tokenCache is a bounded map of backend tokens with a tiny singleflight:
// concurrent misses for one key share a single call of fetch. When full,
// expired entries are dropped first, then an arbitrary one.
type tokenCache struct {
	size  int
	now   func() time.Time
	fetch func(ctx context.Context, subject string) (cachedToken, error)

	mu       sync.RWMutex
	entries  map[tokenKey]cachedToken
	inflight map[tokenKey]*call
}

// call is one in-flight fetch; done is closed when tok and err are set.
type call struct {
	done chan struct{}
	tok  cachedToken
	err  error
}

func newTokenCache(size int, now func() time.Time, fetch func(context.Context, string) (cachedToken, error)) *tokenCache {
	return &tokenCache{
		size:     size,
		now:      now,
		fetch:    fetch,
		entries:  make(map[tokenKey]cachedToken),
		inflight: make(map[tokenKey]*call),
	}
}

// get returns the token for subject, whose key is key: from the cache while
// now is before its useTill, else from fetch, called at most once at a time
// per key however many callers miss together. fetch runs in its own
// goroutine with a context that is not cancelled when a caller gives up, so
// one impatient caller does not fail the others; each caller waits no
// longer than its own ctx. A fetched token is handed out until its useTill
// or notAfter, whichever comes first (a zero notAfter: no bound); one
// whose bound is not after now is returned to the callers of that fetch
// but not cached.
func (c *tokenCache) get(ctx context.Context, key tokenKey, subject string, notAfter time.Time) (string, error) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if ok && c.now().Before(e.useTill) {
		return e.token, nil
	}

	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		if c.now().Before(e.useTill) {
			c.mu.Unlock()
			return e.token, nil
		}
		delete(c.entries, key)
	}
	f, ok := c.inflight[key]
	if !ok {
		f = &call{done: make(chan struct{})}
		c.inflight[key] = f
		go c.run(context.WithoutCancel(ctx), key, subject, notAfter, f)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
		return f.tok.token, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (c *tokenCache) run(ctx context.Context, key tokenKey, subject string, notAfter time.Time, f *call) {
	f.tok, f.err = c.fetch(ctx, subject)
	if !notAfter.IsZero() && notAfter.Before(f.tok.useTill) {
		f.tok.useTill = notAfter
	}
	c.mu.Lock()
	delete(c.inflight, key)
	if now := c.now(); f.err == nil && now.Before(f.tok.useTill) {
		c.put(key, f.tok, now)
	}
	c.mu.Unlock()
	close(f.done)
}

// put stores e under key, making room if needed. c.mu must be held.
func (c *tokenCache) put(key tokenKey, e cachedToken, now time.Time) {
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.size {
		for k, v := range c.entries {
			if !now.Before(v.useTill) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.size {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = e
}

// len returns the number of cached entries, expired ones included.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
