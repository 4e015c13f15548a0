package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver/redislimit"
)

// TestSharedStores runs two starters in this process on one PostgreSQL
// schema (DATABASE_URL) and one Redis prefix (REDIS_URL, REDIS_PREFIX): a
// note written through one is read through the other and is in PostgreSQL,
// and a user's rate limit is counted once for both. They have no
// GATEWAY_SIGNING_KEY_FILE, so each signs with a key of its own: the
// in-process backends need no other. replicas_test.go does the same with
// two processes.
func TestSharedStores(t *testing.T) {
	databaseURL, db := testPostgres(t)
	redisURL, prefix := testRedis(t)
	iss := identitytest.NewIssuer(t)
	env := map[string]string{
		"DATABASE_URL": databaseURL, "REDIS_URL": redisURL, "REDIS_PREFIX": prefix,
		"STATELESS": "true", "RATE_LIMIT_PER_MIN": "4",
	}
	a, b := newTestEnvWith(t, iss, env), newTestEnvWith(t, iss, env)
	mint := func(user string) string { // a token both accept
		tok := iss.Mint(t, identitytest.Subject(user), identitytest.Audience(a.mcpURL, b.mcpURL), identitytest.Scopes(allScopes...))
		a.tokens, b.tokens = append(a.tokens, tok), append(b.tokens, tok)
		return tok
	}

	t.Run("a note written on one is read on the other", func(t *testing.T) {
		alice := mint("alice")
		r := a.do("POST", "/tools/addNote", `{"text":"written on a"}`, auth(alice)...)
		require.Equal(t, 200, r.status, r.raw)
		notes := structuredOf(t, callTool(t, b.connect(alice), "listMyNotes", map[string]any{}))["notes"].([]any)
		require.Len(t, notes, 1)
		require.Equal(t, "written on a", notes[0].(map[string]any)["text"])

		var n int
		require.NoError(t, db.QueryRow(context.Background(), "SELECT count(*) FROM notes WHERE user_key = $1 AND text = $2",
			store.UserKey([]byte(testSalt), "alice"), "written on a").Scan(&n))
		require.Equal(t, 1, n, "the note is in PostgreSQL")
	})

	t.Run("one user's limit holds across both", func(t *testing.T) {
		carol, dave := mint("carol"), mint("dave")
		for i := range 4 {
			e := []*testEnv{a, b}[i%2]
			require.Equal(t, 200, e.do("POST", "/tools/echo", `{"message":"hi"}`, auth(carol)...).status, "call %d", i+1)
		}
		for _, e := range []*testEnv{a, b} {
			r := e.do("POST", "/tools/echo", `{"message":"hi"}`, auth(carol)...)
			require.Equal(t, 429, r.status, r.raw)
			require.Equal(t, "RATE_LIMITED", r.body["error"].(map[string]any)["code"])
		}
		require.Equal(t, 200, b.do("POST", "/tools/echo", `{"message":"hi"}`, auth(dave)...).status, "another user has a budget of their own")

		// carol's count is kept under a hash keyed with a secret derived
		// from the salts: without them, nobody reading Redis can test
		// whether "carol" is an active user.
		m := hmac.New(sha256.New, deriveLimitKey(deriveAuditKey([]byte(testSalt))))
		m.Write([]byte("user:" + iss.URL() + "|carol"))
		plain := sha256.Sum256([]byte("user:" + iss.URL() + "|carol"))
		client, err := redislimit.NewClient(redisURL)
		require.NoError(t, err)
		defer client.Close()
		ctx := context.Background()
		require.Equal(t, int64(1), client.Exists(ctx, prefix+hex.EncodeToString(m.Sum(nil)[:16])).Val(), "carol's key is the keyed hash")
		require.Equal(t, int64(0), client.Exists(ctx, prefix+hex.EncodeToString(plain[:16])).Val(), "no plain hash of carol's key")
	})
}

// TestRateLimitStoreDown starts the starter with REDIS_URL on a port where
// nothing listens: it starts all the same, says so, and requests get 503
// (RATE_LIMIT_FAIL_OPEN=false, the default) or go through unlimited
// (RATE_LIMIT_FAIL_OPEN=true), on MCP and REST alike; every failure is
// logged and counted, and the server keeps serving.
func TestRateLimitStoreDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadRedis := "redis://" + ln.Addr().String() + "/0"
	require.NoError(t, ln.Close())

	tests := []struct {
		name     string
		failOpen string
		status   int // of a tool call, REST and MCP
	}{
		{name: "fail closed by default", failOpen: "", status: 503},
		{name: "fail open", failOpen: "true", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEnv(t, map[string]string{"REDIS_URL": deadRedis, "RATE_LIMIT_FAIL_OPEN": tt.failOpen, "STATELESS": "true"})
			tok := e.mint("alice", allScopes...)

			r := e.do("POST", "/tools/echo", `{"message":"hi"}`, auth(tok)...)
			require.Equal(t, tt.status, r.status, r.raw)
			if tt.status == 503 {
				require.Equal(t, "UNAVAILABLE", r.body["error"].(map[string]any)["code"])
				require.NotEmpty(t, r.header.Get("Retry-After"))
			}
			r = e.do("POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
				append(auth(tok), "Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", "2025-11-25")...)
			require.Equal(t, tt.status, r.status, r.raw)
			if tt.status == 200 {
				require.Equal(t, "Echo: through", textOf(t, callTool(t, e.connect(tok), "echo", map[string]any{"message": "through"})))
			}
			require.Equal(t, 200, e.do("GET", "/healthz", "").status, "still serving")

			require.GreaterOrEqual(t, e.app.limits.errors(), uint64(2), "REST and MCP: the address (and the user when open)")
			logs := e.logs.String()
			require.Contains(t, logs, "REDIS_URL: Redis does not answer; starting anyway")
			require.Contains(t, logs, "mcpserver: rate-limit store failed")
			if tt.failOpen == "true" { // else the address limit refuses before the user's is counted
				require.Contains(t, logs, "rest: rate-limit store failed")
			}
			require.Contains(t, logs, "rate-limit store: Redis is failing")
			require.Contains(t, logs, `"redis_errors_total":`)
			require.NotContains(t, logs, deadRedis, "the URL is not logged: it may hold a password")
		})
	}
}
