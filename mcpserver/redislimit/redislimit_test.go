package redislimit_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/mcpserver/ratelimittest"
	"github.com/idgate/idgate/mcpserver/redislimit"
)

// The behaviour every RateLimitStore shares, MemoryStore's, on a real
// Redis. Time moves forward by shifting the stored state into the past:
// the script reads the server's clock, which a test cannot set.
func TestConformance(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
		c, prefix := newClient(t), newPrefix(t)
		return ratelimittest.Harness{
			Store:   redislimit.New(c, redislimit.Options{Prefix: prefix}),
			Advance: func(t *testing.T, d time.Duration) { advance(t, c, prefix, d) },
		}
	})
}

// Two replicas, each with its own client and Store, enforce one limit per
// user: alternating between them, or hammering both at once.
func TestReplicasShareOneLimit(t *testing.T) {
	prefix := newPrefix(t)
	replicas := []*redislimit.Store{
		redislimit.New(newClient(t), redislimit.Options{Prefix: prefix}),
		redislimit.New(newClient(t), redislimit.Options{Prefix: prefix}),
	}
	ctx := context.Background()
	l := mcpserver.Limit{Rate: 4, Period: time.Hour}

	for i := range 4 {
		res, err := replicas[i%2].Allow(ctx, "user:alice", l)
		require.NoError(t, err)
		require.True(t, res.Allowed, "request %d", i)
		require.Equal(t, 3-i, res.Remaining, "request %d: the count is shared", i)
	}
	for i, r := range replicas {
		res, err := r.Allow(ctx, "user:alice", l)
		require.NoError(t, err)
		require.False(t, res.Allowed, "replica %d refuses alice: her burst is spent", i)
		res, err = r.Allow(ctx, "user:bob", l)
		require.NoError(t, err)
		require.True(t, res.Allowed, "replica %d: bob has his own budget", i)
	}

	// Both replicas at once, four goroutines each: exactly the burst.
	burst := mcpserver.Limit{Rate: 50, Period: time.Hour}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for g := range 8 {
		wg.Go(func() {
			for range 25 {
				res, err := replicas[g%2].Allow(ctx, "user:carol", burst)
				if err != nil {
					errs <- err
					return
				}
				if res.Allowed {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(50), allowed.Load())
	require.Zero(t, replicas[0].Errors()+replicas[1].Errors())
}

// A key holds the TAT in microseconds, named by a hash of the caller's key,
// and expires when the budget has recovered: an allowed request sets the
// expiry to Reset, a refused one leaves it alone.
func TestKeysExpireWhenIdle(t *testing.T) {
	c, prefix := newClient(t), newPrefix(t)
	s := redislimit.New(c, redislimit.Options{Prefix: prefix})
	ctx := context.Background()
	l := mcpserver.Limit{Rate: 2, Period: time.Hour}

	var last mcpserver.Result
	for range 2 {
		res, err := s.Allow(ctx, "user:https://issuer.example|alice", l)
		require.NoError(t, err)
		require.True(t, res.Allowed)
		last = res
	}
	keys := scanPrefix(t, c, prefix)
	require.Len(t, keys, 1)
	key := keys[0]
	require.Regexp(t, `^`+prefix+`[0-9a-f]{32}$`, key, "the key is a hash: no subject or address in Redis")
	ttl, err := c.PTTL(ctx, key).Result()
	require.NoError(t, err)
	require.True(t, ttl > 0 && ttl <= last.Reset.Round(time.Millisecond)+time.Millisecond, "PTTL %v, reset %v", ttl, last.Reset)

	server, err := c.Time(ctx).Result()
	require.NoError(t, err)
	tat, err := c.Get(ctx, key).Int64()
	require.NoError(t, err)
	require.InDelta(t, server.Add(last.Reset).UnixMicro(), tat, float64(time.Minute.Microseconds()), "the value is the TAT in µs")

	refused, err := s.Allow(ctx, "user:https://issuer.example|alice", l)
	require.NoError(t, err)
	require.False(t, refused.Allowed)
	after, err := c.PTTL(ctx, key).Result()
	require.NoError(t, err)
	require.LessOrEqual(t, after, ttl, "a refused request does not extend the expiry")
	tat2, err := c.Get(ctx, key).Int64()
	require.NoError(t, err)
	require.Equal(t, tat, tat2, "a refused request writes nothing")
}

// TestHashKey: with HashKey, a key is stored under its HMAC-SHA256, so
// that a guess (a subject, an address) cannot be tested against Redis
// without the secret; without it, under its plain SHA-256. Stores with the
// same HashKey share one count; with different ones they count apart.
func TestHashKey(t *testing.T) {
	c, prefix := newClient(t), newPrefix(t)
	ctx := context.Background()
	const key = "ip:192.0.2.7"
	secret := []byte("0123456789abcdef0123456789abcdef")
	l := mcpserver.Limit{Rate: 1, Period: time.Hour}

	keyed := redislimit.New(c, redislimit.Options{Prefix: prefix, HashKey: secret})
	res, err := keyed.Allow(ctx, key, l)
	require.NoError(t, err)
	require.True(t, res.Allowed)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(key))
	want := prefix + hex.EncodeToString(m.Sum(nil)[:16])
	plain := sha256.Sum256([]byte(key))
	require.Equal(t, []string{want}, scanPrefix(t, c, prefix), "stored under the keyed hash")

	// Another replica with the same secret shares the count.
	again, err := redislimit.New(c, redislimit.Options{Prefix: prefix, HashKey: bytes.Clone(secret)}).Allow(ctx, key, l)
	require.NoError(t, err)
	require.False(t, again.Allowed, "same HashKey, same count")

	// Another secret, another count; no key at all, the plain hash.
	other, err := redislimit.New(c, redislimit.Options{Prefix: prefix, HashKey: []byte("another secret of 32 bytes......")}).Allow(ctx, key, l)
	require.NoError(t, err)
	require.True(t, other.Allowed, "another HashKey counts apart")
	unkeyed, err := redislimit.New(c, redislimit.Options{Prefix: prefix, HashKey: []byte{}}).Allow(ctx, key, l)
	require.NoError(t, err)
	require.True(t, unkeyed.Allowed)
	require.Contains(t, scanPrefix(t, c, prefix), prefix+hex.EncodeToString(plain[:16]), "an empty HashKey is no key")
	require.Len(t, scanPrefix(t, c, prefix), 3)

	// New keeps its own copy of the secret.
	mutable := bytes.Clone(secret)
	copied := redislimit.New(c, redislimit.Options{Prefix: prefix, HashKey: mutable})
	clear(mutable)
	res, err = copied.Allow(ctx, key, l)
	require.NoError(t, err)
	require.False(t, res.Allowed, "the secret was copied, so this is the first store's count")
}

func TestDefaultPrefix(t *testing.T) {
	c := newClient(t)
	s := redislimit.New(c, redislimit.Options{})
	ctx := context.Background()
	key := "user:default-prefix-test|" + strconv.FormatInt(time.Now().UnixNano(), 10)
	before := scanPrefix(t, c, redislimit.DefaultPrefix)
	_, err := s.Allow(ctx, key, mcpserver.Limit{Rate: 1, Period: time.Minute})
	require.NoError(t, err)
	after := scanPrefix(t, c, redislimit.DefaultPrefix)
	var added []string
	for _, k := range after {
		if !contains(before, k) {
			added = append(added, k)
		}
	}
	require.Len(t, added, 1)
	require.NoError(t, c.Del(ctx, added...).Err())
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// blackhole accepts connections and never answers: a Redis that hangs.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// An unreachable or hanging Redis is an error, returned within the
// store's timeout, counted and reported; never a panic.
func TestRedisUnavailable(t *testing.T) {
	rows := []struct {
		name      string
		client    func(t *testing.T) redis.UniversalClient
		wantError func(t *testing.T, err error)
	}{
		{
			name: "connection refused",
			client: func(t *testing.T) redis.UniversalClient {
				c, err := redislimit.NewClient("redis://" + closedPort(t) + "/0")
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
				return c
			},
			wantError: func(t *testing.T, err error) { require.ErrorContains(t, err, "redislimit: run GCRA script") },
		},
		{
			name: "server hangs: the store's timeout fires",
			client: func(t *testing.T) redis.UniversalClient {
				c, err := redislimit.NewClient("redis://" + blackhole(t) + "/0?read_timeout=1m&write_timeout=1m&dial_timeout=1m")
				require.NoError(t, err)
				t.Cleanup(func() { c.Close() })
				return c
			},
			wantError: func(t *testing.T, err error) {
				var ne net.Error
				timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
				require.True(t, timeout, "want a timeout, got %v", err)
			},
		},
		{
			name:      "no client",
			client:    func(*testing.T) redis.UniversalClient { return nil },
			wantError: func(t *testing.T, err error) { require.ErrorContains(t, err, "no Redis client") },
		},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []error
			s := redislimit.New(row.client(t), redislimit.Options{
				Timeout: 200 * time.Millisecond,
				OnError: func(err error) { mu.Lock(); seen = append(seen, err); mu.Unlock() },
			})
			for i := range 3 {
				res, err := s.Allow(context.Background(), "user:alice", mcpserver.Limit{Rate: 10})
				require.Error(t, err)
				row.wantError(t, err)
				require.Equal(t, mcpserver.Result{}, res, "no decision on error")
				require.Equal(t, uint64(i+1), s.Errors())
			}
			mu.Lock()
			defer mu.Unlock()
			require.Len(t, seen, 3, "OnError sees every error")
		})
	}
}

// Errors that are the store's fault count; a caller that went away does
// not, and a limit that cannot be enforced does.
func TestErrorsCount(t *testing.T) {
	s := redislimit.New(newClient(t), redislimit.Options{Prefix: newPrefix(t)})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Allow(canceled, "user:alice", mcpserver.Limit{Rate: 1})
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, s.Errors(), "the caller's cancellation is not a store failure")

	rows := map[string]mcpserver.Limit{
		"negative":             {Rate: -1},
		"below a microsecond":  {Rate: 1_000_000, Period: 500 * time.Millisecond},
		"burst over 100 years": {Rate: 1, Period: 24 * time.Hour, Burst: 40_000},
	}
	n := uint64(0)
	for name, l := range rows {
		_, err := s.Allow(context.Background(), "user:alice", l)
		require.Error(t, err, name)
		require.True(t, strings.HasPrefix(err.Error(), "redislimit: "), name)
		n++
		require.Equal(t, n, s.Errors(), name)
	}
	res, err := s.Allow(context.Background(), "user:alice", mcpserver.Limit{Rate: 1_000_000, Period: time.Second})
	require.NoError(t, err, "one request per microsecond is the finest limit")
	require.True(t, res.Allowed)
}

// TestTypedNilClient: a nil *redis.Client (NewClient's result whose error
// was ignored) makes Allow fail with an error, as documented, not panic.
func TestTypedNilClient(t *testing.T) {
	s := redislimit.New((*redis.Client)(nil), redislimit.Options{})
	var err error
	require.NotPanics(t, func() { _, err = s.Allow(context.Background(), "user:x", mcpserver.Limit{Rate: 1}) })
	require.ErrorContains(t, err, "no Redis client")
}

func TestNewClient(t *testing.T) {
	rows := []struct {
		name, url string
		wantErr   bool
		addr      string
		db        int
		dial      time.Duration
		read      time.Duration
	}{
		{"defaults", "redis://127.0.0.1:6379/3", false, "127.0.0.1:6379", 3, redislimit.DefaultDialTimeout, redislimit.DefaultReadWriteTimeout},
		{"URL timeouts win", "redis://h:1/0?dial_timeout=3s&read_timeout=2s", false, "h:1", 0, 3 * time.Second, 2 * time.Second},
		{"password never shown", "redis://u:s3cret-pw@h:notaport/0", true, "", 0, 0, 0},
		{"unknown scheme", "http://u:s3cret-pw@h/0", true, "", 0, 0, 0},
		{"not a URL", "s3cret-pw", true, "", 0, 0, 0},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c, err := redislimit.NewClient(row.url)
			if row.wantErr {
				require.Error(t, err)
				require.NotContains(t, err.Error(), "s3cret-pw")
				require.Nil(t, c)
				return
			}
			require.NoError(t, err)
			defer c.Close()
			o := c.Options()
			require.Equal(t, row.addr, o.Addr)
			require.Equal(t, row.db, o.DB)
			require.Equal(t, row.dial, o.DialTimeout)
			require.Equal(t, row.read, o.ReadTimeout)
			require.True(t, o.ContextTimeoutEnabled)
		})
	}
}
