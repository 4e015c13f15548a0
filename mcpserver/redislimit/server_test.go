package redislimit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/mcpserver/redislimit"
)

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`

// startReplica serves a stateless mcpserver whose rate limits live in
// store, as one replica of a deployment would.
func startReplica(t *testing.T, iss *identitytest.Issuer, store mcpserver.RateLimitStore, failOpen bool, user mcpserver.Limit) *httptest.Server {
	t.Helper()
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{identitytest.DefaultAudience},
	})
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	srv, err := mcpserver.New(mcpserver.Config{
		Name:                 "replica",
		PublicURL:            identitytest.DefaultAudience,
		AuthorizationServers: []string{iss.URL()},
		Verifier:             v,
		Stateless:            true,
		JSONResponse:         true,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
		RateLimit:            mcpserver.RateLimitConfig{Store: store, FailOpen: failOpen, User: user},
	})
	require.NoError(t, err)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs
}

// post sends an MCP initialize with token and returns the response.
func post(t *testing.T, hs *httptest.Server, token string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, hs.URL+"/mcp", strings.NewReader(initializeBody))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hs.Client().Do(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Two replicas, each with its own Redis client: a user's limit is one
// budget across both, over HTTP.
func TestReplicasThroughMCPServer(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	prefix := newPrefix(t)
	user := mcpserver.Limit{Rate: 3, Period: time.Hour}
	a := startReplica(t, iss, redislimit.New(newClient(t), redislimit.Options{Prefix: prefix}), false, user)
	b := startReplica(t, iss, redislimit.New(newClient(t), redislimit.Options{Prefix: prefix}), false, user)
	alice := iss.Mint(t, identitytest.Subject("alice"))
	bob := iss.Mint(t, identitytest.Subject("bob"))

	steps := []struct {
		replica *httptest.Server
		token   string
		want    int
		limit   string // the RateLimit header
	}{
		{a, alice, http.StatusOK, "limit=3, remaining=2, reset=1200"},
		{b, alice, http.StatusOK, "limit=3, remaining=1, reset=2400"},
		{a, alice, http.StatusOK, "limit=3, remaining=0, reset=3600"},
		{b, alice, http.StatusTooManyRequests, "limit=3, remaining=0, reset=3600"},
		{a, alice, http.StatusTooManyRequests, "limit=3, remaining=0, reset=3600"},
		{b, bob, http.StatusOK, "limit=3, remaining=2, reset=1200"},
	}
	for i, st := range steps {
		resp := post(t, st.replica, st.token)
		require.Equal(t, st.want, resp.StatusCode, "step %d", i)
		require.Equal(t, st.limit, resp.Header.Get("RateLimit"), "step %d", i)
		if st.want == http.StatusTooManyRequests {
			require.Equal(t, "1200", resp.Header.Get("Retry-After"), "step %d: one request every 20 minutes", i)
		}
	}
}

// Redis down: mcpserver refuses with 503 by default and lets requests
// through with FailOpen; the store counts the failures either way.
func TestRedisDownThroughMCPServer(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	alice := iss.Mint(t, identitytest.Subject("alice"))
	rows := []struct {
		name       string
		failOpen   bool
		wantStatus int
	}{
		{"fail closed (default)", false, http.StatusServiceUnavailable},
		{"fail open", true, http.StatusOK},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c, err := redislimit.NewClient("redis://" + closedPort(t) + "/0")
			require.NoError(t, err)
			t.Cleanup(func() { c.Close() })
			store := redislimit.New(c, redislimit.Options{Timeout: 200 * time.Millisecond})
			hs := startReplica(t, iss, store, row.failOpen, mcpserver.Limit{})
			resp := post(t, hs, alice)
			require.Equal(t, row.wantStatus, resp.StatusCode)
			if !row.failOpen {
				require.Equal(t, "1", resp.Header.Get("Retry-After"))
				require.Equal(t, uint64(1), store.Errors(), "refused at the per-address limit")
			} else {
				require.Equal(t, uint64(2), store.Errors(), "the per-address and the per-user limit both failed")
			}
		})
	}
}
