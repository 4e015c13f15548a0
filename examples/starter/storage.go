package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/mcpserver/redislimit"
)

// redisPingTimeout bounds the start-up check that Redis answers.
const redisPingTimeout = 2 * time.Second

// redisErrorLogEvery is the least time between two summaries of Redis
// failures in the log (each failure is logged as well, by the request it
// failed).
const redisErrorLogEvery = 10 * time.Second

// openStore opens the database the demo backend keeps notes and the CRM in:
// PostgreSQL when DATABASE_URL names it (shared by every replica; the schema
// is created or migrated at start-up, one replica at a time), else SQLite
// at CRM_DB_PATH, created on first run. It is the one place where storage
// is chosen. Errors never contain DATABASE_URL, which may hold a password.
func openStore(ctx context.Context, cfg *config) (store.Store, error) {
	s, err := store.Open(ctx, cfg.DatabaseURL, cfg.CRMDBPath)
	switch {
	case err == nil:
		return s, nil
	case cfg.DatabaseURL != "":
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	default:
		return nil, fmt.Errorf("CRM_DB_PATH=%s: %w", cfg.CRMDBPath, err)
	}
}

// rateLimits is the store that counts each user's and each address's
// requests, for MCP and REST alike: in memory (one process), or in Redis
// when REDIS_URL is set, so that a user's limit holds across every replica
// that shares it.
type rateLimits struct {
	mcpserver.RateLimitStore
	// client and shared are the Redis client and store; nil in memory.
	client *redis.Client
	shared *redislimit.Store
}

// newRateLimitStore returns the rate-limit store cfg names. It is the one
// place where it is chosen. A Redis that does not answer at start-up is
// logged, not fatal: requests get what RATE_LIMIT_FAIL_OPEN says until it
// answers. Errors never contain REDIS_URL, which may hold a password.
func newRateLimitStore(ctx context.Context, cfg *config, log *slog.Logger) (*rateLimits, error) {
	if cfg.RedisURL == "" {
		return &rateLimits{RateLimitStore: mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{})}, nil
	}
	client, err := redislimit.NewClient(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	failures := &redisFailures{log: log, failOpen: cfg.RateLimitFailOpen}
	shared := redislimit.New(client, redislimit.Options{Prefix: cfg.RedisPrefix, HashKey: deriveLimitKey(cfg.AuditKey), OnError: failures.record})
	failures.store = shared

	pctx, cancel := context.WithTimeout(ctx, redisPingTimeout)
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		log.Warn("REDIS_URL: Redis does not answer; starting anyway, rate-limited requests are "+
			failures.outcome()+" until it does", slog.String("error", err.Error()))
	}
	return &rateLimits{RateLimitStore: shared, client: client, shared: shared}, nil
}

// errors returns how many times the shared store failed since start-up; 0
// in memory, which cannot fail.
func (l *rateLimits) errors() uint64 {
	if l == nil || l.shared == nil {
		return 0
	}
	return l.shared.Errors()
}

// close closes the Redis client, if any.
func (l *rateLimits) close() error {
	if l == nil || l.client == nil {
		return nil
	}
	return l.client.Close()
}

// redisFailures logs a summary of the Redis store's failures, at most once
// per redisErrorLogEvery, with the running count: the request that failed
// logs its own line (mcpserver's "rate-limit store failed", REST's), this
// one says how many there have been and what requests get meanwhile.
type redisFailures struct {
	log      *slog.Logger
	failOpen bool
	store    *redislimit.Store
	// last is when the last summary was logged, in Unix nanoseconds.
	last atomic.Int64
}

// record is redislimit's Options.OnError.
func (f *redisFailures) record(err error) {
	now := time.Now().UnixNano()
	prev := f.last.Load()
	if prev != 0 && now-prev < int64(redisErrorLogEvery) || !f.last.CompareAndSwap(prev, now) {
		return
	}
	f.log.Warn("rate-limit store: Redis is failing; requests are "+f.outcome(),
		slog.Uint64("redis_errors_total", f.store.Errors()),
		slog.Bool("fail_open", f.failOpen),
		slog.String("error", err.Error()))
}

// outcome says what a request gets while Redis fails.
func (f *redisFailures) outcome() string {
	if f.failOpen {
		return "let through unlimited (RATE_LIMIT_FAIL_OPEN=true)"
	}
	return "refused with 503 (RATE_LIMIT_FAIL_OPEN=false)"
}

// redisLog carries go-redis's own messages (such as its connection pool's
// dial failures) into the starter's log, at debug level: go-redis writes
// them to stderr in a format of its own otherwise, and each failure that
// matters already reaches the log as the error of the request it failed.
type redisLog struct{ log *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...))
}

// ipLimit is each client address's rate limit, before authentication:
// RATE_LIMIT_PER_IP_PER_MIN requests a minute, or mcpserver's default.
func ipLimit(cfg *config) mcpserver.Limit {
	rate := cfg.IPRatePerMin
	if rate == 0 {
		rate = mcpserver.DefaultIPRate
	}
	return mcpserver.Limit{Rate: rate, Period: mcpserver.DefaultRatePeriod}
}

// userLimit is each user's rate limit: RATE_LIMIT_PER_MIN requests a
// minute, or mcpserver's default.
func userLimit(cfg *config) mcpserver.Limit {
	rate := cfg.RatePerMin
	if rate == 0 {
		rate = mcpserver.DefaultUserRate
	}
	return mcpserver.Limit{Rate: rate, Period: mcpserver.DefaultRatePeriod}
}
