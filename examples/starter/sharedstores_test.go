package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver/redislimit"
)

// The servers the replica tests share, as .ci/run starts them; the
// environment overrides them.
const (
	defaultTestPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultTestRedisURL    = "redis://127.0.0.1:6379/15"
)

// testServerURL returns the environment variable env, or def.
func testServerURL(env, def string) string {
	if u := os.Getenv(env); u != "" {
		return u
	}
	return def
}

// redacted is u without its password, for a failure message.
func redacted(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// randomName returns prefix and 16 random hex digits.
func randomName(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// testPostgres creates a schema of its own on the test PostgreSQL
// (IDGATE_TEST_POSTGRES_URL), dropped when the test ends, and returns a
// DATABASE_URL whose search_path is that schema, and a connection to it.
// It fails the test, never skips it, when the server does not answer.
func testPostgres(t *testing.T) (databaseURL string, conn *pgx.Conn) {
	t.Helper()
	base := testServerURL("IDGATE_TEST_POSTGRES_URL", defaultTestPostgresURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("PostgreSQL at %s is unreachable: %v\n"+
			"These tests need a real server: start it (.ci/run does) or set IDGATE_TEST_POSTGRES_URL.", redacted(base), err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	schema := randomName("idgate_starter_")
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		require.NoError(t, err)
	})
	_, err = admin.Exec(ctx, "SET search_path TO "+schema)
	require.NoError(t, err)

	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), admin
}

// testRedis returns the test Redis (IDGATE_TEST_REDIS_URL) and a key prefix
// of this test's own, whose keys are deleted when the test ends. It fails
// the test, never skips it, when the server does not answer.
func testRedis(t *testing.T) (redisURL, prefix string) {
	t.Helper()
	redisURL = testServerURL("IDGATE_TEST_REDIS_URL", defaultTestRedisURL)
	client, err := redislimit.NewClient(redisURL)
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s is unreachable: %v\n"+
			"These tests need a real server: start it (.ci/run does) or set IDGATE_TEST_REDIS_URL.", redacted(redisURL), err)
	}
	prefix = randomName("idgate-starter-test:") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		require.NoError(t, iter.Err())
		if len(keys) > 0 {
			require.NoError(t, client.Del(ctx, keys...).Err())
		}
	})
	return redisURL, prefix
}
