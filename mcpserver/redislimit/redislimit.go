package redislimit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/internal/nilcheck"
	"github.com/idgate/idgate/mcpserver"
)

// Defaults of Options.
const (
	// DefaultPrefix is the default Options.Prefix.
	DefaultPrefix = "idgate:ratelimit:"
	// DefaultTimeout is the default Options.Timeout.
	DefaultTimeout = 500 * time.Millisecond
)

// maxTolerance bounds Period/Rate × Burst: times are microseconds in the
// script's double-precision numbers, exact up to 2⁵³ µs (285 years after
// 1970); a tolerance of at most 100 years keeps every sum below that.
const maxTolerance = 100 * 365 * 24 * time.Hour

// gcraScript is GCRA for one key, atomic because Redis runs a script
// without interleaving other commands. The time is the server's (TIME), so
// replicas whose clocks disagree share one notion of now.
//
// KEYS[1] is the key; ARGV[1] the interval Period/Rate in microseconds,
// ARGV[2] the burst. The key holds the theoretical arrival time (TAT) in
// microseconds since the Unix epoch, in decimal, and expires when the
// caller's budget has fully recovered, when it carries no information. A
// refused request writes nothing, unless the TAT lay more than the whole
// burst ahead of now, which only a clock set back causes: it is brought
// back to now plus the burst, as mcpserver's GCRA does. The reply is {allowed (0 or 1),
// remaining, retry after µs, reset µs}, the fields of mcpserver.Result,
// computed as mcpserver.MemoryStore does.
const gcraScript = `
local interval = tonumber(ARGV[1])
local tolerance = interval * tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then
  tat = now
elseif tat > now + tolerance then
  tat = now + tolerance
  redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil(tolerance / 1000))
end
local used = tat + interval - now
if used > tolerance then
  return {0, 0, used - tolerance, tat - now}
end
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval), 'PX', math.ceil(used / 1000))
return {1, math.floor((tolerance - used) / interval), 0, used}
`

// Options configures New.
type Options struct {
	// Prefix starts every key the store writes, to share a Redis database
	// with other data or other servers. Default (""): DefaultPrefix.
	Prefix string

	// Timeout bounds one Allow call, as a context deadline, so that an
	// unreachable Redis costs a request this long at most before
	// mcpserver's FailOpen decides. It takes effect only on a client with
	// ContextTimeoutEnabled (NewClient sets it); on other clients the
	// client's dial, read and write timeouts bound a call. Default (0):
	// DefaultTimeout. Negative: no deadline of the store's own.
	Timeout time.Duration

	// HashKey keys the hash under which each key is stored in Redis
	// (HMAC-SHA256). Set it to a secret of at least 32 random bytes that
	// every replica shares (replicas with different keys count apart).
	// Without it the hash is plain SHA-256: whoever can read the Redis
	// database can test guesses against it, and learn which users are
	// active and from which addresses (all of IPv4 takes minutes). Default
	// nil.
	HashKey []byte

	// OnError, when set, is called with every error Allow returns that the
	// caller's context did not cause: to log or count store failures where
	// Errors is not enough. It must be safe for concurrent use and return
	// quickly. Default nil.
	OnError func(error)
}

// redisKey returns where key's state is kept: Prefix and the hex of the
// first 16 bytes of its hash, keyed with HashKey when there is one.
func (s *Store) redisKey(key string) string {
	var sum []byte
	if s.hashKey != nil {
		m := hmac.New(sha256.New, s.hashKey)
		m.Write([]byte(key))
		sum = m.Sum(make([]byte, 0, sha256.Size))
	} else {
		h := sha256.Sum256([]byte(key))
		sum = h[:]
	}
	return s.prefix + hex.EncodeToString(sum[:16])
}

// Store is an mcpserver.RateLimitStore on Redis, shared by every replica
// that uses the same Redis and Prefix: a user's limit holds across all of
// them. It applies GCRA in one Lua script, with the same results as
// mcpserver.MemoryStore, to a resolution of one microsecond.
//
// Each key (mcpserver's "user:…" or "ip:…") is stored as Prefix and the hex
// of the first 16 bytes of its HMAC-SHA256 under Options.HashKey (of its
// SHA-256 without one), so that no subject or address is written to Redis
// in clear, and holds one number that expires when idle. Store is
// safe for concurrent use.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	onError func(error)
	script  *redis.Script
	hashKey []byte // nil: plain SHA-256
	errors  atomic.Uint64
}

var _ mcpserver.RateLimitStore = (*Store)(nil)

// New returns a Store on client, which the caller keeps and closes. It does
// not contact Redis: an unreachable server shows as errors from Allow.
func New(client redis.UniversalClient, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if nilcheck.IsNil(client) {
		client = nil // Allow then fails with an error, as documented, rather than panicking
	}
	var hashKey []byte
	if len(opts.HashKey) > 0 {
		hashKey = bytes.Clone(opts.HashKey)
	}
	return &Store{
		client:  client,
		prefix:  opts.Prefix,
		timeout: opts.Timeout,
		onError: opts.OnError,
		script:  redis.NewScript(gcraScript),
		hashKey: hashKey,
	}
}

// Allow implements mcpserver.RateLimitStore: it records one request for key
// under limit, unless refused. Zero fields of limit take mcpserver's
// defaults (DefaultUserRate per DefaultRatePeriod, burst equal to the
// rate). It returns an error, never panics, when the limit cannot be
// enforced (negative fields, an interval below one microsecond, a burst
// longer than a century) or Redis cannot answer; each such error counts in
// Errors.
func (s *Store) Allow(ctx context.Context, key string, limit mcpserver.Limit) (mcpserver.Result, error) {
	res, err := s.allow(ctx, key, limit)
	if err != nil && ctx.Err() == nil {
		s.errors.Add(1)
		if s.onError != nil {
			s.onError(err)
		}
	}
	return res, err
}

func (s *Store) allow(ctx context.Context, key string, limit mcpserver.Limit) (mcpserver.Result, error) {
	interval, burst, err := micros(limit)
	if err != nil {
		return mcpserver.Result{}, fmt.Errorf("redislimit: %w", err)
	}
	if s.client == nil {
		return mcpserver.Result{}, errors.New("redislimit: Store has no Redis client")
	}
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	vals, err := s.script.Run(ctx, s.client, []string{s.redisKey(key)}, interval, burst).Int64Slice()
	if err != nil {
		return mcpserver.Result{}, fmt.Errorf("redislimit: run GCRA script: %w", err)
	}
	if len(vals) != 4 {
		return mcpserver.Result{}, fmt.Errorf("redislimit: GCRA script returned %d values, want 4", len(vals))
	}
	return mcpserver.Result{
		Allowed:    vals[0] == 1,
		Remaining:  int(vals[1]),
		RetryAfter: time.Duration(vals[2]) * time.Microsecond,
		Reset:      time.Duration(vals[3]) * time.Microsecond,
	}, nil
}

// Errors returns how many errors Allow has returned since New, not
// counting those the caller's context caused (a client that went away).
// Export it as a metric: a rising count means Redis is failing and
// requests are being refused or, with FailOpen, let through unlimited.
func (s *Store) Errors() uint64 { return s.errors.Load() }

// micros applies mcpserver's defaults to l and returns its interval
// (Period/Rate, rounded down to a microsecond, as MemoryStore rounds it
// down to a nanosecond) and burst.
func micros(l mcpserver.Limit) (interval, burst int64, err error) {
	if l.Rate < 0 || l.Burst < 0 || l.Period < 0 {
		return 0, 0, errors.New("rate, burst and period must not be negative")
	}
	if l.Rate == 0 {
		l.Rate = mcpserver.DefaultUserRate
	}
	if l.Period == 0 {
		l.Period = mcpserver.DefaultRatePeriod
	}
	if l.Burst == 0 {
		l.Burst = l.Rate
	}
	iv := l.Period / time.Duration(l.Rate)
	if iv < time.Microsecond {
		return 0, 0, fmt.Errorf("rate %d per %v is too fine: one request per microsecond at most", l.Rate, l.Period)
	}
	if time.Duration(l.Burst) > maxTolerance/iv {
		return 0, 0, fmt.Errorf("burst %d at one request per %v spans more than %v", l.Burst, iv, maxTolerance)
	}
	return int64(iv / time.Microsecond), int64(l.Burst), nil
}
