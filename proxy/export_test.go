package proxy

import (
	"net/http"
	"time"
)

// SetClock makes e read the time from now, so that tests can move time
// without sleeping.
func (e *Exchange) SetClock(now func() time.Time) { e.now = now }

// CacheLen returns how many exchanged tokens e keeps.
func (e *Exchange) CacheLen() int { return e.cache.len() }

// SetClock makes s read the time from now.
func (s *Signer) SetClock(now func() time.Time) { s.now = now }

// ReuseLen returns how many minted tokens s keeps for reuse.
func (s *Signer) ReuseLen() int {
	if s.reuse == nil {
		return 0
	}
	return s.reuse.len()
}

// DefaultTransport returns the transport of the client a Config without
// HTTPClient gets.
func DefaultTransport() *http.Transport {
	return noRedirects(nil).Transport.(*http.Transport)
}
