package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/mcpserver"
)

// openStore opens the database the demo backend keeps notes and the CRM in:
// SQLite at CRM_DB_PATH, created on first run. It is the one place where
// storage is chosen.
func openStore(ctx context.Context, cfg *config) (store.Store, error) {
	if cfg.DatabaseURL != "" {
		return nil, errors.New("DATABASE_URL is not supported by this build yet: unset it to keep the data in SQLite at CRM_DB_PATH (e.g. CRM_DB_PATH=./data/crm.sqlite)")
	}
	s, err := store.OpenSQLite(ctx, cfg.CRMDBPath)
	if err != nil {
		return nil, fmt.Errorf("CRM_DB_PATH=%s: %w", cfg.CRMDBPath, err)
	}
	return s, nil
}

// newRateLimitStore returns the store that counts each user's requests, for
// MCP and REST alike: in memory, per process. It is the one place where the
// rate-limit store is chosen.
func newRateLimitStore(cfg *config) (mcpserver.RateLimitStore, error) {
	if cfg.RedisURL != "" {
		return nil, errors.New("REDIS_URL is not supported by this build yet: unset it to count rate limits in memory (one process)")
	}
	return mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{}), nil
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
