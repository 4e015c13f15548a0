package proxy

import "time"

// SetClock makes e read the time from now, so that tests can move time
// without sleeping.
func (e *Exchange) SetClock(now func() time.Time) { e.now = now }

// CacheLen returns how many exchanged tokens e keeps.
func (e *Exchange) CacheLen() int { return e.cache.len() }
