package redislimit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver/redislimit"
)

// defaultRedisURL is the test server when IDGATE_TEST_REDIS_URL is unset:
// database 15 of the local Redis that .ci/run starts.
const defaultRedisURL = "redis://127.0.0.1:6379/15"

func redisURL() string {
	if u := os.Getenv("IDGATE_TEST_REDIS_URL"); u != "" {
		return u
	}
	return defaultRedisURL
}

// newClient returns a client on the test server, closed when the test
// ends. The test fails (it never skips) when the server does not answer.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	c, err := redislimit.NewClient(redisURL())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		shown := "(unparsable URL)"
		if u, perr := url.Parse(redisURL()); perr == nil {
			shown = u.Redacted()
		}
		t.Fatalf("Redis at %s is unreachable: %v\n"+
			"These tests need a real server: start it (.ci/run does) or set IDGATE_TEST_REDIS_URL.", shown, err)
	}
	return c
}

// newPrefix returns a key prefix used by this test alone; its keys are
// deleted when the test ends.
func newPrefix(t testing.TB) string {
	t.Helper()
	var b [8]byte
	rand.Read(b[:])
	prefix := "idgate-test:" + hex.EncodeToString(b[:]) + ":"
	c := newClient(t)
	t.Cleanup(func() {
		ctx := context.Background()
		keys := scanPrefix(t, c, prefix)
		if len(keys) > 0 {
			require.NoError(t, c.Del(ctx, keys...).Err())
		}
	})
	return prefix
}

// scanPrefix returns every key that starts with prefix.
func scanPrefix(t testing.TB, c redis.UniversalClient, prefix string) []string {
	t.Helper()
	var keys []string
	iter := c.Scan(context.Background(), 0, prefix+"*", 100).Iterator()
	for iter.Next(context.Background()) {
		keys = append(keys, iter.Val())
	}
	require.NoError(t, iter.Err())
	return keys
}

// shiftScript moves one key's state d microseconds (ARGV[1]) into the
// past: its theoretical arrival time and its expiry. For GCRA that is the
// same as the clock moving d forward.
const shiftScript = `
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil then return 0 end
local d = tonumber(ARGV[1])
local ttl = redis.call('PTTL', KEYS[1]) - math.floor(d / 1000)
if ttl <= 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.0f', tat - d), 'PX', ttl)
end
return 1
`

// advance moves time forward by d for every key under prefix.
func advance(t *testing.T, c redis.UniversalClient, prefix string, d time.Duration) {
	t.Helper()
	shift := redis.NewScript(shiftScript)
	for _, k := range scanPrefix(t, c, prefix) {
		require.NoError(t, shift.Run(context.Background(), c, []string{k}, d.Microseconds()).Err())
	}
}
