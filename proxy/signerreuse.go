package proxy

import (
	"sync"
	"time"

	"github.com/idgate/idgate/identity"
)

// SignerReuseMaxEntries bounds the tokens a Signer with
// SignerConfig.ReuseFor keeps: one per identity that called within
// ReuseFor.
const SignerReuseMaxEntries = 10_000

// mintedTokens are the tokens a Signer minted recently, by identity, for
// SignerConfig.ReuseFor. Keys are identity pointers: the same pointer is
// the same verified user token, and holding it keeps it from being reused
// for another identity.
type mintedTokens struct {
	reuseFor time.Duration
	max      int

	mu      sync.RWMutex
	entries map[*identity.Identity]minted
}

// minted is a token, when it was minted, until when it may be reused and
// when it expires.
type minted struct {
	token         string
	at, till, exp time.Time
}

func newMintedTokens(reuseFor time.Duration, max int) *mintedTokens {
	return &mintedTokens{reuseFor: reuseFor, max: max, entries: make(map[*identity.Identity]minted)}
}

// get returns the token minted for id, if now is before its reuse ends
// (and not before it was minted: a clock that went back mints anew) and
// before it expires (its exp may be the user's, sooner than reuseFor).
func (m *mintedTokens) get(id *identity.Identity, now time.Time) (string, bool) {
	m.mu.RLock()
	e, ok := m.entries[id]
	m.mu.RUnlock()
	if !ok || now.Before(e.at) || !now.Before(e.till) || !now.Before(e.exp) {
		return "", false
	}
	return e.token, true
}

// put keeps tok, minted for id at now, reusable until till (at most
// reuseFor after now) and expiring at exp. When full, tokens past their
// reuse go first, then arbitrary ones.
func (m *mintedTokens) put(id *identity.Identity, tok string, now, till, exp time.Time) {
	if end := now.Add(m.reuseFor); end.Before(till) {
		till = end
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[id]; !ok && len(m.entries) >= m.max {
		for k, e := range m.entries {
			if !now.Before(e.till) || !now.Before(e.exp) {
				delete(m.entries, k)
			}
		}
		for k := range m.entries {
			if len(m.entries) < m.max {
				break
			}
			delete(m.entries, k)
		}
	}
	m.entries[id] = minted{token: tok, at: now, till: till, exp: exp}
}

// len returns the number of tokens kept.
func (m *mintedTokens) len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}
