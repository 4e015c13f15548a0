package identity

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// coldRetryInterval spaces fetch attempts while no key was ever fetched.
const coldRetryInterval = time.Second

// keySet is the issuer's JWKS as the verifier knows it: the last set fetched
// successfully, refreshed in the background when older than
// RefreshInterval, refetched when a token names an unknown kid (at most once
// per UnknownKIDInterval), and kept through fetch failures. Lookups read
// the current set without locking.
//
// Fetches run one at a time in a goroutine tracked by wg and bounded by
// ctx (cancelled by close); requests that need the result wait for it, so
// concurrent requests with unknown kids share one fetch.
type keySet struct {
	cfg *jwtSettings

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	keys atomic.Pointer[keyIndex] // nil until a fetch succeeds
	// nextAttempt is when (Unix nanoseconds) a refresh of stale keys may
	// start again: UnknownKIDInterval after the last attempt.
	nextAttempt atomic.Int64

	mu          sync.Mutex
	jwksURL     string        // configured or discovered; "" until discovered
	attemptedAt time.Time     // start of the last fetch attempt
	lastErr     error         // outcome of the last finished attempt
	inflight    chan struct{} // closed when the running fetch ends; nil if none
	closed      bool
}

func newKeySet(cfg *jwtSettings) *keySet {
	ctx, cancel := context.WithCancel(context.Background())
	return &keySet{cfg: cfg, ctx: ctx, cancel: cancel, jwksURL: cfg.JWKSURL}
}

// warm starts the first fetch and waits for it, or for ctx.
func (ks *keySet) warm(ctx context.Context) {
	ks.mu.Lock()
	done := ks.startFetchLocked(ks.cfg.Now())
	ks.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// close cancels any fetch in progress, waits for it, and prevents new ones.
func (ks *keySet) close() {
	ks.mu.Lock()
	ks.closed = true
	ks.mu.Unlock()
	ks.cancel()
	ks.wg.Wait()
}

// key returns the public key for a token's kid (possibly empty) and alg,
// and the set it is in. A kid not in the cached set triggers a refetch
// when the interval allows; the error then wraps ErrUnknownKey, or
// ErrKeysUnavailable when the keys could not be fetched; a key unfit for
// alg gives ErrBadAlgorithm.
func (ks *keySet) key(ctx context.Context, kid, alg string) (any, *keyIndex, error) {
	now := ks.cfg.Now()
	if idx := ks.keys.Load(); idx != nil {
		if k, err := idx.find(kid, alg); k != nil || err != nil {
			ks.refreshIfStale(idx, now)
			return k, idx, err
		}
	}
	ks.mu.Lock()
	done, ok := ks.refetchLocked(now)
	if !ok {
		defer ks.mu.Unlock()
		if ks.keys.Load() == nil || ks.lastErr != nil {
			return nil, nil, ks.unavailableLocked()
		}
		return nil, nil, unknownKey(kid, "refetch not due yet")
	}
	ks.mu.Unlock()
	select {
	case <-done:
	case <-ctx.Done():
		return nil, nil, &jwtError{sentinel: ErrKeysUnavailable, detail: "gave up waiting for the JWKS", cause: ctx.Err()}
	}
	if idx := ks.keys.Load(); idx != nil {
		if k, err := idx.find(kid, alg); k != nil || err != nil {
			return k, idx, err
		}
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.keys.Load() == nil || ks.lastErr != nil {
		return nil, nil, ks.unavailableLocked()
	}
	return nil, nil, unknownKey(kid, "not in the JWKS just fetched")
}

// keyBinding is the key a cached token was verified with: the set it was
// found in, and how the token named it (its kid, possibly empty, and
// alg), so that a later set can be asked for the key the token would now
// be verified with.
type keyBinding struct {
	idx      *keyIndex
	kid, alg string
	key      any
}

// holds reports whether a token verified with the key b would still be
// verified with that key: whether the current set gives the same key for
// its kid and alg (a set fetched since may have withdrawn it). It returns
// the binding to the current set, b itself when the set has not changed
// (no allocation); the caller rebinds the entry when it differs. Like a
// key lookup, it starts a background refresh of keys older than
// RefreshInterval, so that a withdrawal is learnt even while every token
// presented is cached.
func (ks *keySet) holds(b *keyBinding, now time.Time) (*keyBinding, bool) {
	idx := ks.keys.Load()
	if idx == nil || b == nil {
		return nil, false
	}
	ks.refreshIfStale(idx, now)
	if idx == b.idx {
		return b, true
	}
	k, err := idx.find(b.kid, b.alg)
	if err != nil || k == nil || !sameKey(k, b.key) {
		return nil, false
	}
	return &keyBinding{idx: idx, kid: b.kid, alg: b.alg, key: k}, true
}

// sameKey reports whether the public keys a and b are equal.
func sameKey(a, b any) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// refreshIfStale starts a background refresh when idx, the current set, is
// older than RefreshInterval and no attempt is due to wait (nextAttempt:
// an atomic read, so that requests served from the cache take no lock
// while the issuer is down).
func (ks *keySet) refreshIfStale(idx *keyIndex, now time.Time) {
	if now.Sub(idx.fetchedAt) >= ks.cfg.RefreshInterval && now.UnixNano() >= ks.nextAttempt.Load() {
		ks.refreshStale(now)
	}
}

// refetchLocked starts (or joins) a fetch for a kid that is not cached and
// returns the channel closed when it ends, or false when the interval since
// the last attempt (UnknownKIDInterval; while no key was ever fetched, at
// most coldRetryInterval) forbids a new fetch. ks.mu is held.
func (ks *keySet) refetchLocked(now time.Time) (chan struct{}, bool) {
	if ks.inflight != nil {
		return ks.inflight, true
	}
	interval := ks.cfg.UnknownKIDInterval
	if ks.keys.Load() == nil {
		interval = min(interval, coldRetryInterval)
	}
	if ks.closed || (!ks.attemptedAt.IsZero() && now.Sub(ks.attemptedAt) < interval) {
		return nil, false
	}
	return ks.startFetchLocked(now), true
}

func unknownKey(kid, why string) error {
	if kid == "" {
		return jwtErrorf(ErrUnknownKey, "token has no kid and not exactly one published key fits its alg (%s)", why)
	}
	return jwtErrorf(ErrUnknownKey, "kid %s unknown (%s)", quoteValue(kid), why)
}

// unavailableLocked returns the ErrKeysUnavailable error for the last
// failed attempt. ks.mu is held.
func (ks *keySet) unavailableLocked() error {
	switch {
	case ks.closed:
		return jwtErrorf(ErrKeysUnavailable, "verifier closed")
	case ks.lastErr == nil:
		return jwtErrorf(ErrKeysUnavailable, "JWKS not fetched yet")
	}
	return &jwtError{sentinel: ErrKeysUnavailable, detail: ks.lastErr.Error(), cause: ks.lastErr}
}

// refreshStale starts a background fetch of keys older than
// RefreshInterval, unless one runs or the last attempt is more recent than
// UnknownKIDInterval.
func (ks *keySet) refreshStale(now time.Time) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.inflight != nil || ks.closed || now.Sub(ks.attemptedAt) < ks.cfg.UnknownKIDInterval {
		return
	}
	ks.startFetchLocked(now)
}

// startFetchLocked starts a fetch unless one is running or the set is
// closed, and returns the channel closed when it ends. ks.mu is held.
func (ks *keySet) startFetchLocked(now time.Time) chan struct{} {
	if ks.inflight != nil {
		return ks.inflight
	}
	done := make(chan struct{})
	if ks.closed {
		close(done)
		return done
	}
	ks.inflight = done
	ks.attemptedAt = now
	ks.nextAttempt.Store(now.Add(ks.cfg.UnknownKIDInterval).UnixNano())
	jwksURL := ks.jwksURL
	ks.wg.Add(1)
	go func() {
		defer ks.wg.Done()
		defer close(done)
		idx, discovered, err := ks.fetch(jwksURL)
		ks.mu.Lock()
		defer ks.mu.Unlock()
		ks.inflight = nil
		ks.lastErr = err
		if discovered != "" {
			ks.jwksURL = discovered
		}
		if err == nil {
			idx.fetchedAt = ks.cfg.Now()
			ks.keys.Store(idx)
		}
	}()
	return done
}

// fetch discovers the JWKS URL when jwksURL is empty, then fetches and
// parses the set. It returns the URL it discovered, if any.
func (ks *keySet) fetch(jwksURL string) (idx *keyIndex, discovered string, err error) {
	if jwksURL == "" {
		jwksURL, err = ks.discover()
		if err != nil {
			return nil, "", err
		}
		discovered = jwksURL
	}
	body, err := ks.get(jwksURL)
	if err != nil {
		return nil, discovered, fmt.Errorf("fetch JWKS: %w", err)
	}
	idx, err = parseJWKS(body)
	if err != nil {
		return nil, discovered, fmt.Errorf("JWKS %s: %w", shownURL(jwksURL), err)
	}
	return idx, discovered, nil
}

// errResponseTooLarge is returned for a response over MaxResponseBytes.
var errResponseTooLarge = errors.New("response too large")
