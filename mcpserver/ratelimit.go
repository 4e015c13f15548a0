package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"time"
)

// A Limit is a rate limit: Rate requests per Period, of which up to Burst
// may come at once. It is enforced with the generic cell rate algorithm
// (GCRA): one request is allowed every Period/Rate, and a caller who was
// quiet may spend up to Burst at once.
type Limit struct {
	// Rate is the number of requests allowed per Period. Zero means the
	// default of the limit being configured.
	Rate int
	// Period is the window Rate counts over. Default (0): one minute.
	Period time.Duration
	// Burst is how many requests may arrive back to back after a quiet
	// spell. Default (0): Rate.
	Burst int
}

// withDefaults fills the zero fields of l, defaultRate for Rate.
func (l *Limit) withDefaults(defaultRate int) error {
	if l.Rate < 0 || l.Burst < 0 || l.Period < 0 {
		return errors.New("rate, burst and period must not be negative")
	}
	if l.Rate == 0 {
		l.Rate = defaultRate
	}
	if l.Period == 0 {
		l.Period = DefaultRatePeriod
	}
	if l.Burst == 0 {
		l.Burst = l.Rate
	}
	t := l.Period / time.Duration(l.Rate)
	if t <= 0 {
		return fmt.Errorf("rate %d per %v is too fine: one request per nanosecond at most", l.Rate, l.Period)
	}
	// The burst's span, Period/Rate times Burst, must fit a Duration, or
	// the algorithm's sums overflow and every request is refused (Burst
	// math.MaxInt for "no burst limit", say).
	if hi, lo := bits.Mul64(uint64(t), uint64(l.Burst)); hi != 0 || lo > uint64(maxBurstSpan) {
		return fmt.Errorf("burst %d at %v a request spans more than %v", l.Burst, t, maxBurstSpan)
	}
	return nil
}

// maxBurstSpan bounds the time a full burst spans (Period/Rate × Burst):
// 100 years, which redislimit's store takes as well.
const maxBurstSpan = 100 * 365 * 24 * time.Hour

// interval is the time one request costs: Period/Rate.
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Rate) }

// Result is what a RateLimitStore decided about one request.
type Result struct {
	// Allowed reports whether the request may proceed.
	Allowed bool
	// Remaining is how many more requests would be allowed right now.
	Remaining int
	// RetryAfter is, when not Allowed, how long until one request would be
	// allowed.
	RetryAfter time.Duration
	// Reset is how long until the caller's full burst is available again.
	Reset time.Duration
}

// A RateLimitStore counts requests per key. Allow records one request for
// key under limit and reports whether it is allowed; a refused request is
// not counted. Implementations must be safe for concurrent use. An error
// means the store could not decide (RateLimitConfig.FailOpen says what
// happens then).
type RateLimitStore interface {
	Allow(ctx context.Context, key string, limit Limit) (Result, error)
}

// gcra applies the generic cell rate algorithm to one key: tat is the
// key's theoretical arrival time (zero for a new key), now the current
// time. It returns the result and the new tat: unchanged when refused,
// unless it lay more than the whole burst ahead of now.
//
// A tat never lies further ahead than that while the clock only moves on;
// it does when the clock was set back, and then counts as a spent burst:
// kept as it was, it would refuse the caller until the clock had caught
// up again, for as long as the clock went back.
func gcra(tat, now time.Time, l Limit) (Result, time.Time) {
	t := l.interval()
	tolerance := t * time.Duration(l.Burst) // the whole burst
	if tat.Before(now) {
		tat = now
	} else if limit := now.Add(tolerance); tat.After(limit) {
		tat = limit
	}
	newTAT := tat.Add(t)
	if used := newTAT.Sub(now); used > tolerance {
		return Result{
			Allowed:    false,
			Remaining:  0,
			RetryAfter: used - tolerance,
			Reset:      tat.Sub(now),
		}, tat
	}
	used := newTAT.Sub(now)
	return Result{
		Allowed:   true,
		Remaining: int((tolerance - used) / t),
		Reset:     used,
	}, newTAT
}
