// Package ratelimittest is the conformance suite of mcpserver.RateLimitStore:
// the behaviour every store must show, whether it keeps its counters in
// memory (mcpserver.MemoryStore) or on a server shared by replicas
// (redislimit.Store). A store's test calls Run with a function that returns
// an empty store and a way to move its clock:
//
//	func TestConformance(t *testing.T) {
//		ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
//			clock := ratelimittest.NewClock()
//			s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{Now: clock.Now})
//			return ratelimittest.Harness{Store: s, Advance: clock.Advance}
//		})
//	}
//
// The expected figures are those of GCRA (the generic cell rate algorithm)
// as mcpserver.Limit documents it. A store on a real clock (a server's
// TIME) sees a little real time pass between calls: durations are checked
// to lie between the exact figure less the time the subtest has run and the
// exact figure, and every limit in the suite leaves margins of at least 30
// seconds, so that counts and decisions are exact.
package ratelimittest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
)

// Harness is one store under test.
type Harness struct {
	// Store is the store under test. It must hold no keys.
	Store mcpserver.RateLimitStore

	// Advance moves the store's notion of the current time forward by d,
	// for every key, or back when d is negative (a server's clock set
	// back). A store on a clock it does not control may instead shift the
	// state it keeps d into the past (into the future for a negative d),
	// which GCRA cannot tell apart. Required.
	Advance func(t *testing.T, d time.Duration)
}

// Run runs the conformance suite. newHarness is called once per subtest and
// must return a Harness on an empty store used by nothing else.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	s := suite{newHarness: newHarness}
	t.Run("GCRA", s.gcra)
	t.Run("RefusedRequestsAreNotCounted", s.refusedNotCounted)
	t.Run("KeysAreIndependent", s.keysIndependent)
	t.Run("Defaults", s.defaults)
	t.Run("InvalidLimits", s.invalidLimits)
	t.Run("Concurrent", s.concurrent)
	t.Run("ClockSetBack", s.clockSetBack)
}

// Clock is a manual clock for stores that take the time from a function,
// such as mcpserver.MemoryStoreConfig.Now. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Unix(1_700_000_000, 0)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (back when d is negative); it has
// the signature of Harness.Advance.
func (c *Clock) Advance(_ *testing.T, d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type suite struct {
	newHarness func(t *testing.T) Harness
}

// checker compares results with their exact figures, allowing for the real
// time that has passed since it was made.
type checker struct {
	t     *testing.T
	h     Harness
	start time.Time
}

func (s suite) checker(t *testing.T) checker {
	t.Helper()
	h := s.newHarness(t)
	require.NotNil(t, h.Store, "Harness.Store")
	require.NotNil(t, h.Advance, "Harness.Advance")
	return checker{t: t, h: h, start: time.Now()}
}

// want is the exact result expected of one call.
type want struct {
	allowed    bool
	remaining  int
	retryAfter time.Duration
	reset      time.Duration
}

// allow calls the store and checks its result against w.
func (c checker) allow(key string, l mcpserver.Limit, w want, msg string) {
	c.t.Helper()
	res, err := c.h.Store.Allow(context.Background(), key, l)
	require.NoError(c.t, err, msg)
	slack := time.Since(c.start)
	require.Equal(c.t, w.allowed, res.Allowed, "%s: allowed", msg)
	require.Equal(c.t, w.remaining, res.Remaining, "%s: remaining", msg)
	c.duration(res.RetryAfter, w.retryAfter, slack, msg+": retry after")
	c.duration(res.Reset, w.reset, slack, msg+": reset")
}

// duration checks that got lies in [want-slack, want] (and is not negative).
func (c checker) duration(got, want, slack time.Duration, msg string) {
	c.t.Helper()
	lo := max(want-slack, 0)
	require.True(c.t, got >= lo && got <= want, "%s: %v, want %v (less at most %v of real time)", msg, got, want, slack)
}

// The step table: one request a minute, a burst of three.
func (s suite) gcra(t *testing.T) {
	c := s.checker(t)
	l := mcpserver.Limit{Rate: 60, Period: time.Hour, Burst: 3}
	steps := []struct {
		advance time.Duration
		want    want
	}{
		{0, want{true, 2, 0, time.Minute}},
		{0, want{true, 1, 0, 2 * time.Minute}},
		{0, want{true, 0, 0, 3 * time.Minute}},
		{0, want{false, 0, time.Minute, 3 * time.Minute}},
		{30 * time.Second, want{false, 0, 30 * time.Second, 150 * time.Second}},
		{30 * time.Second, want{true, 0, 0, 3 * time.Minute}},
		{90 * time.Second, want{true, 0, 0, 150 * time.Second}},
		{10 * time.Minute, want{true, 2, 0, time.Minute}}, // fully recovered
	}
	for i, st := range steps {
		c.h.Advance(t, st.advance)
		c.allow("user:a", l, st.want, fmt.Sprintf("step %d", i))
	}
}

// Refused requests cost nothing: however many are refused, the next one
// is allowed as soon as one interval has passed.
func (s suite) refusedNotCounted(t *testing.T) {
	c := s.checker(t)
	l := mcpserver.Limit{Rate: 2, Period: 2 * time.Hour, Burst: 2}
	c.allow("user:a", l, want{true, 1, 0, time.Hour}, "first")
	c.allow("user:a", l, want{true, 0, 0, 2 * time.Hour}, "second")
	for i := range 10 {
		c.allow("user:a", l, want{false, 0, time.Hour, 2 * time.Hour}, fmt.Sprintf("refused %d", i))
	}
	c.h.Advance(t, time.Hour)
	c.allow("user:a", l, want{true, 0, 0, 2 * time.Hour}, "after one interval")
	c.allow("user:a", l, want{false, 0, time.Hour, 2 * time.Hour}, "then refused again")
}

// Each key has its own budget, whatever its length or bytes.
func (s suite) keysIndependent(t *testing.T) {
	c := s.checker(t)
	l := mcpserver.Limit{Rate: 1, Period: time.Hour}
	keys := []string{
		"user:https://issuer.example|alice",
		"user:https://issuer.example|bob",
		"ip:203.0.113.7",
		"ip:2001:db8::1",
		"user:ünïcödé|✓",
		"user:bytes|\x00\xff\n*",
		"user:long|" + strings.Repeat("x", 10_000),
		"",
	}
	for _, k := range keys {
		c.allow(k, l, want{true, 0, 0, time.Hour}, fmt.Sprintf("first request of %.40q", k))
	}
	for _, k := range keys {
		c.allow(k, l, want{false, 0, time.Hour, time.Hour}, fmt.Sprintf("second request of %.40q", k))
	}
}

// Zero fields take mcpserver's defaults: DefaultUserRate per
// DefaultRatePeriod, burst equal to the rate.
func (s suite) defaults(t *testing.T) {
	c := s.checker(t)
	interval := mcpserver.DefaultRatePeriod / mcpserver.DefaultUserRate
	c.allow("user:zero", mcpserver.Limit{}, want{true, mcpserver.DefaultUserRate - 1, 0, interval}, "zero limit")

	l := mcpserver.Limit{Rate: 5, Period: time.Hour} // burst defaults to the rate
	for i := range 5 {
		c.allow("user:burst", l, want{true, 4 - i, 0, time.Duration(i+1) * 12 * time.Minute}, fmt.Sprintf("request %d", i))
	}
	c.allow("user:burst", l, want{false, 0, 12 * time.Minute, time.Hour}, "sixth request")

	// Period defaults to DefaultRatePeriod.
	c.allow("user:period", mcpserver.Limit{Rate: 1}, want{true, 0, 0, mcpserver.DefaultRatePeriod}, "rate only")
}

// Limits that cannot be enforced are an error, never a panic, and count
// nothing.
func (s suite) invalidLimits(t *testing.T) {
	c := s.checker(t)
	rows := map[string]mcpserver.Limit{
		"negative rate":         {Rate: -1},
		"negative burst":        {Rate: 1, Burst: -1},
		"negative period":       {Rate: 1, Period: -time.Second},
		"below one nanosecond":  {Rate: 2, Period: time.Nanosecond},
		"negative and too fine": {Rate: -5, Period: time.Nanosecond, Burst: -1},
	}
	for name, l := range rows {
		t.Run(name, func(t *testing.T) {
			_, err := c.h.Store.Allow(context.Background(), "user:invalid", l)
			require.Error(t, err)
		})
	}
	c.allow("user:invalid", mcpserver.Limit{Rate: 1, Period: time.Hour}, want{true, 0, 0, time.Hour}, "after the errors, a full budget")
}

// Exactly the burst is allowed, whatever the interleaving.
func (s suite) concurrent(t *testing.T) {
	c := s.checker(t)
	l := mcpserver.Limit{Rate: 100, Period: time.Hour}
	const workers, calls = 8, 50
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		allowed int
		errs    []error
	)
	for range workers {
		wg.Go(func() {
			for range calls {
				res, err := c.h.Store.Allow(context.Background(), "user:x", l)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if res.Allowed {
					allowed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Equal(t, 100, allowed)
}

// A clock set back (a server's, stepped by NTP or by hand) costs a caller
// at most its burst: refused for one interval, then served at the rate,
// not locked out until the clock has caught up with where it was.
func (s suite) clockSetBack(t *testing.T) {
	c := s.checker(t)
	l := mcpserver.Limit{Rate: 60, Period: time.Hour, Burst: 3}
	c.allow("user:a", l, want{true, 2, 0, time.Minute}, "before")
	c.h.Advance(t, -time.Hour)
	c.allow("user:a", l, want{false, 0, time.Minute, 3 * time.Minute}, "after the clock went an hour back")
	c.h.Advance(t, time.Minute)
	c.allow("user:a", l, want{true, 0, 0, 3 * time.Minute}, "one interval later")
	c.allow("user:a", l, want{false, 0, time.Minute, 3 * time.Minute}, "and no more")
}
