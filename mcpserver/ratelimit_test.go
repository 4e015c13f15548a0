package mcpserver_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/mcpserver/ratelimittest"
	"github.com/idgate/idgate/scopes"
)

// Per-user limit: alice is throttled, bob is not.
func TestUserRateLimit(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, append(opts, func(c *mcpserver.Config) {
			c.RateLimit.User = mcpserver.Limit{Rate: 3, Period: time.Minute}
		})...)
		post := func(token string) rawResponse {
			return e.do(http.MethodPost, "/mcp", initializeBody, bearer(token)...)
		}
		for i := range 3 {
			r := post(e.alice)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.Equal(t, "3;w=60", r.Header.Get("RateLimit-Policy"))
			require.Regexp(t, `^limit=3, remaining=`+strconv.Itoa(2-i)+`, reset=\d+$`, r.Header.Get("RateLimit"))
		}
		r := post(e.alice)
		require.Equal(t, http.StatusTooManyRequests, r.Status)
		require.JSONEq(t, `{"error":"rate limit exceeded"}`, r.Body)
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		require.NoError(t, err)
		require.True(t, retry >= 1 && retry <= 20, "Retry-After %d: one request every 20s", retry)
		require.Equal(t, "3;w=60", r.Header.Get("RateLimit-Policy"))
		require.Regexp(t, `^limit=3, remaining=0, reset=(5\d|60)$`, r.Header.Get("RateLimit"))

		r = post(e.bob)
		require.Equal(t, http.StatusOK, r.Status, "bob has his own budget")
	})
}

// Per-address limit, before authentication: a flood without tokens is
// refused before it reaches the verifier.
func TestIPRateLimit(t *testing.T) {
	e := newEnv(t, stateless, func(c *mcpserver.Config) {
		c.RateLimit.IP = mcpserver.Limit{Rate: 2, Period: time.Hour}
	})
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/mcp", initializeBody).Status)
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/mcp", initializeBody).Status)
	r := e.do(http.MethodPost, "/mcp", initializeBody, bearer(e.alice)...)
	require.Equal(t, http.StatusTooManyRequests, r.Status)
	retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.True(t, retry > 1700 && retry <= 1800, "Retry-After %d: one request every 30 minutes", retry)
	require.Equal(t, "2;w=3600", r.Header.Get("RateLimit-Policy"))
	require.Empty(t, r.Header.Get("WWW-Authenticate"))
}

func TestRateLimitDisabled(t *testing.T) {
	e := newEnv(t, stateless, func(c *mcpserver.Config) {
		c.RateLimit = mcpserver.RateLimitConfig{Disabled: true, User: mcpserver.Limit{Rate: 1}}
	})
	for range 3 {
		r := e.do(http.MethodPost, "/mcp", initializeBody, bearer(e.alice)...)
		require.Equal(t, http.StatusOK, r.Status)
		require.Empty(t, r.Header.Get("RateLimit"))
	}
}

// failingStore is a RateLimitStore that always fails.
type failingStore struct{}

func (failingStore) Allow(context.Context, string, mcpserver.Limit) (mcpserver.Result, error) {
	return mcpserver.Result{}, errors.New("store down")
}

func TestRateLimitStoreFailure(t *testing.T) {
	tests := []struct {
		name       string
		failOpen   bool
		wantStatus int
	}{
		{"fail closed by default", false, http.StatusServiceUnavailable},
		{"fail open when asked", true, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, stateless, func(c *mcpserver.Config) {
				c.RateLimit.Store = failingStore{}
				c.RateLimit.FailOpen = tc.failOpen
			})
			r := e.do(http.MethodPost, "/mcp", initializeBody, bearer(e.alice)...)
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
			if tc.wantStatus == http.StatusServiceUnavailable {
				require.Equal(t, "1", r.Header.Get("Retry-After"))
			}
			require.Contains(t, e.logs.String(), "rate-limit store failed")
			require.NotContains(t, e.logs.String(), "alice", "the log names the kind of limit, not the user")
		})
	}
}

// waitingStore is a RateLimitStore that answers once the request's context
// ends, with its error, as a store does when the client goes away while it
// waits for the answer.
type waitingStore struct{ called chan struct{} }

func (s waitingStore) Allow(ctx context.Context, _ string, _ mcpserver.Limit) (mcpserver.Result, error) {
	close(s.called)
	<-ctx.Done()
	return mcpserver.Result{}, fmt.Errorf("redis: %w", ctx.Err())
}

// A client that goes away while the store answers is no store failure
// (the store's error wraps the request context's):
// nothing is logged as one, and the audit event says the client went.
func TestRateLimitClientGone(t *testing.T) {
	store := waitingStore{called: make(chan struct{})}
	e := newEnv(t, stateless, func(c *mcpserver.Config) { c.RateLimit.Store = store })
	ctx, cancel := context.WithCancel(context.Background())
	// A request without a body: net/http watches its connection from
	// the start, and ends its context when the client closes it.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.http.URL+"/mcp", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.alice)
	go func() {
		<-store.called
		cancel()
	}()
	_, err = e.http.Client().Do(req)
	require.ErrorIs(t, err, context.Canceled)
	require.Eventually(t, func() bool {
		for _, ev := range e.logs.events(t) {
			if ev["decision"] == "error" && ev["reason"] == "client_gone" {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "the request's audit event")
	require.NotContains(t, e.logs.String(), "rate-limit store failed")
}

// TrustedProxies: X-Forwarded-For counts only behind a trusted proxy.
func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		trusted []netip.Prefix
		// two requests from the same peer with different X-Forwarded-For
		wantSecond int
	}{
		{"X-Forwarded-For ignored by default", nil, http.StatusTooManyRequests},
		{"believed from a trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, stateless, func(c *mcpserver.Config) {
				c.RateLimit.IP = mcpserver.Limit{Rate: 1, Period: time.Hour}
				c.RateLimit.TrustedProxies = tc.trusted
			})
			r := e.do(http.MethodPost, "/mcp", initializeBody, "X-Forwarded-For", "203.0.113.1")
			require.Equal(t, http.StatusUnauthorized, r.Status)
			r = e.do(http.MethodPost, "/mcp", initializeBody, "X-Forwarded-For", "198.51.100.7, 127.0.0.1")
			require.Equal(t, tc.wantSecond, r.Status)
		})
	}
}

func TestMemoryStoreGCRA(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{Now: clock})
	lim := mcpserver.Limit{Rate: 60, Period: time.Minute, Burst: 3}
	ctx := context.Background()

	steps := []struct {
		advance       time.Duration
		wantAllowed   bool
		wantRemaining int
		wantRetry     time.Duration
	}{
		{0, true, 2, 0},
		{0, true, 1, 0},
		{0, true, 0, 0},
		{0, false, 0, time.Second},
		{500 * time.Millisecond, false, 0, 500 * time.Millisecond},
		{500 * time.Millisecond, true, 0, 0},
		{10 * time.Second, true, 2, 0}, // fully recovered
	}
	for i, st := range steps {
		advance(st.advance)
		res, err := s.Allow(ctx, "user:a", lim)
		require.NoError(t, err)
		require.Equal(t, st.wantAllowed, res.Allowed, "step %d", i)
		require.Equal(t, st.wantRemaining, res.Remaining, "step %d", i)
		require.Equal(t, st.wantRetry, res.RetryAfter, "step %d", i)
	}
	// Another key has its own budget.
	res, err := s.Allow(ctx, "user:b", lim)
	require.NoError(t, err)
	require.Equal(t, 2, res.Remaining)
}

// TestMemoryStoreSweepKeepsCounting: a request whose key the once-a-minute
// sweep removes (its budget had fully recovered) is still counted.
func TestMemoryStoreSweepKeepsCounting(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{Now: func() time.Time { return now }})
	lim := mcpserver.Limit{Rate: 60, Period: time.Minute, Burst: 3}
	ctx := context.Background()
	for _, want := range []int{2, 1} {
		res, err := s.Allow(ctx, "user:a", lim)
		require.NoError(t, err)
		require.Equal(t, want, res.Remaining)
	}
	now = now.Add(2 * time.Minute) // the next request sweeps the recovered key
	for _, want := range []int{2, 1, 0} {
		res, err := s.Allow(ctx, "user:a", lim)
		require.NoError(t, err)
		require.Equal(t, want, res.Remaining)
	}
	require.Equal(t, 1, s.Len())
}

func TestMemoryStoreBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{MaxKeys: 160, Now: func() time.Time { return now }})
	lim := mcpserver.Limit{Rate: 10, Period: time.Minute}
	for i := range 5000 {
		res, err := s.Allow(context.Background(), fmt.Sprintf("ip:%d", i), lim)
		require.NoError(t, err)
		require.True(t, res.Allowed)
	}
	require.LessOrEqual(t, s.Len(), 160)
	require.Greater(t, s.Len(), 0)
}

func TestMemoryStoreConcurrent(t *testing.T) {
	s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{})
	lim := mcpserver.Limit{Rate: 100, Period: time.Hour}
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 8 {
		wg.Go(func() {
			for range 50 {
				res, err := s.Allow(context.Background(), "user:x", lim)
				require.NoError(t, err)
				if res.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	require.Equal(t, 100, allowed, "exactly the burst is allowed, whatever the interleaving")
}

// TestMemoryStoreConcurrentSweeps: requests racing the sweep that removes
// their key are each counted once: after every full recovery, exactly the
// burst is allowed again, whichever request triggers the sweep and however
// the others interleave with it.
func TestMemoryStoreConcurrentSweeps(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Unix(1_700_000_000, 0).UnixNano())
	s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	lim := mcpserver.Limit{Rate: 64, Period: time.Hour}
	keys := []string{"ip:192.0.2.1", "user:a", "user:b"}
	for phase := range 40 {
		now.Add(int64(2 * time.Hour)) // every key recovers; the first request sweeps
		var allowed [3]atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 48 {
					k := (g + i) % len(keys)
					res, err := s.Allow(context.Background(), keys[k], lim)
					require.NoError(t, err)
					if res.Allowed {
						allowed[k].Add(1)
					}
				}
			})
		}
		wg.Wait()
		for k := range keys {
			require.Equal(t, int64(64), allowed[k].Load(), "phase %d, key %s", phase, keys[k])
		}
		require.Equal(t, len(keys), s.Len(), "phase %d", phase)
		entries, removed := mcpserver.MemoryStoreEntries(s)
		require.Equal(t, len(keys), entries, "phase %d", phase)
		require.Zero(t, removed, "phase %d", phase)
	}
}

// TestMemoryStoreConcurrentEvictions: with the store full, new keys evict
// old ones while requests count under them; the store stays within MaxKeys
// and keeps an exact count of what it holds.
func TestMemoryStoreConcurrentEvictions(t *testing.T) {
	s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{MaxKeys: 32})
	lim := mcpserver.Limit{Rate: 1 << 20, Period: time.Hour}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				_, err := s.Allow(context.Background(), fmt.Sprintf("ip:%d", (g*2000+i)%200), lim)
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.LessOrEqual(t, s.Len(), 32)
	require.Positive(t, s.Len())
	entries, removed := mcpserver.MemoryStoreEntries(s)
	require.Equal(t, s.Len(), entries, "the store's count is what its map holds")
	require.Zero(t, removed, "no removed entry is left behind")
}

// An IPv6 client usually holds a whole /64 and can send from any address
// in it: the per-address limit counts the /64, or one host could
// sidestep it with a fresh address per request. IPv4 addresses count
// one by one.
func TestIPRateLimitIPv6Prefix(t *testing.T) {
	e := newEnv(t, stateless, func(c *mcpserver.Config) {
		c.RateLimit.IP = mcpserver.Limit{Rate: 1, Period: time.Hour}
		c.RateLimit.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	tests := []struct {
		client     string // X-Forwarded-For set by the trusted proxy
		wantStatus int
	}{
		{"2001:db8:1:2::1", http.StatusUnauthorized},
		{"2001:db8:1:2:ffff:ffff:ffff:9", http.StatusTooManyRequests}, // same /64
		{"2001:db8:1:3::1", http.StatusUnauthorized},                  // next /64
		{"203.0.113.1", http.StatusUnauthorized},
		{"203.0.113.2", http.StatusUnauthorized},           // IPv4: per address
		{"::ffff:203.0.113.1", http.StatusTooManyRequests}, // 203.0.113.1 again
	}
	for _, tc := range tests {
		t.Run(tc.client, func(t *testing.T) {
			r := e.do(http.MethodPost, "/mcp", initializeBody, "X-Forwarded-For", tc.client)
			require.Equal(t, tc.wantStatus, r.Status, r.Body)
		})
	}
}

// The RateLimit header's limit is the quota its remaining counts down from
// and its reset refers to: the burst, which a caller can spend at once,
// not the rate. With the rate (3) a burst of 6 showed "limit=3,
// remaining=5", more left than the limit, and a burst of 1 "limit=3,
// remaining=0" on the first request.
func TestRateLimitHeaderLimitIsBurst(t *testing.T) {
	for _, burst := range []int{6, 1} {
		t.Run(strconv.Itoa(burst), func(t *testing.T) {
			e := newEnv(t, stateless, func(c *mcpserver.Config) {
				c.RateLimit.User = mcpserver.Limit{Rate: 3, Period: time.Minute, Burst: burst}
			})
			for i := range burst {
				r := e.do(http.MethodPost, "/mcp", initializeBody, bearer(e.alice)...)
				require.Equal(t, http.StatusOK, r.Status, r.Body)
				// One request costs 20s: reset is 20s per request spent.
				want := fmt.Sprintf("limit=%d, remaining=%d, reset=%d", burst, burst-1-i, 20*(i+1))
				require.Equal(t, want, r.Header.Get("RateLimit"), "request %d", i)
			}
			r := e.do(http.MethodPost, "/mcp", initializeBody, bearer(e.alice)...)
			require.Equal(t, http.StatusTooManyRequests, r.Status)
			require.Regexp(t, `^limit=`+strconv.Itoa(burst)+`, remaining=0, reset=\d+$`, r.Header.Get("RateLimit"))
		})
	}
}

// A refused JSON-RPC batch tells its caller to wait until the whole batch
// fits, not only its next call: with Retry-After the time until one
// request is allowed, a caller that waited that long and sent the batch
// again had it charged for the one call that fitted and refused anew, for
// ever.
func TestBatchRetryAfterFitsTheBatch(t *testing.T) {
	clock := ratelimittest.NewClock()
	e := newEnv(t, stateless, func(c *mcpserver.Config) {
		c.RateLimit.User = mcpserver.Limit{Rate: 4, Period: time.Hour} // one per 15 minutes, burst 4
		c.RateLimit.Store = mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{Now: clock.Now})
	})
	var calls atomic.Int64
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "count", Description: "counts"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			calls.Add(1)
			return nil, nil, nil
		})
	hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-03-26"})
	batch := func(n int) rawResponse {
		var msgs []string
		for i := range n {
			msgs = append(msgs, callBody(100+i, "count"))
		}
		return e.do(http.MethodPost, "/mcp", "["+strings.Join(msgs, ",")+"]", hdr...)
	}
	require.Equal(t, http.StatusOK, batch(2).Status) // two of the four spent
	for attempt := range 3 {
		r := batch(3)
		if r.Status == http.StatusOK {
			require.EqualValues(t, 5, calls.Load())
			require.Positive(t, attempt, "the first batch of three cannot fit")
			return
		}
		require.Equal(t, http.StatusTooManyRequests, r.Status, r.Body)
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		require.NoError(t, err)
		clock.Advance(t, time.Duration(retry)*time.Second)
	}
	t.Fatal("a batch of three, sent again after each Retry-After, was never served")
}

// A batch with more calls than the burst can never be served: it is
// refused without charging its calls, instead of spending the caller's
// whole budget on every attempt (and refusing its other requests).
func TestBatchBeyondBurstCostsNothing(t *testing.T) {
	e := newEnv(t, stateless, func(c *mcpserver.Config) {
		c.RateLimit.User = mcpserver.Limit{Rate: 6, Period: time.Hour}
	})
	mcpserver.AddTool(e.srv, &mcp.Tool{Name: "count", Description: "counts"}, scopes.Public(),
		func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
			return nil, nil, nil
		})
	hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-03-26"})
	var msgs []string
	for i := range 7 {
		msgs = append(msgs, callBody(100+i, "count"))
	}
	r := e.do(http.MethodPost, "/mcp", "["+strings.Join(msgs, ",")+"]", hdr...)
	require.Equal(t, http.StatusTooManyRequests, r.Status, r.Body)
	require.Empty(t, r.Header.Get("Retry-After"), "no wait lets seven calls through a burst of six")
	// The refused request itself was charged, as any request that passes
	// the per-user limit is; its calls were not.
	for i := range 5 {
		r := e.do(http.MethodPost, "/mcp", callBody(i, "count"), hdr...)
		require.Equal(t, http.StatusOK, r.Status, "call %d: %s", i, r.Body)
	}
}
