package main

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRoutes checks the public routes besides the tools: service
// information, health, the metadata, favicons, the gateway's JWKS, the
// demo backend's health, and that no authorization-server endpoint is
// served.
func TestRoutes(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		name   string
		method string
		path   string
		status int
		body   map[string]any // exact body, when set
		keys   []string       // body keys, when set
	}{
		{name: "service info", method: "GET", path: "/", status: 200, body: map[string]any{
			"ok": true, "service": "idgate-starter",
			"well_known": []any{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"},
			"message": "Send POST /mcp (MCP JSON-RPC over Streamable HTTP), or POST /tools/{toolName} with a JSON body (REST), " +
				"with a Bearer token to call a tool. The protected-resource metadata names the authorization server to get one from.",
		}},
		{name: "health", method: "GET", path: "/healthz", status: 200, body: map[string]any{"status": "ok"}},
		{name: "path-aware metadata", method: "GET", path: "/.well-known/oauth-protected-resource/mcp", status: 200, body: map[string]any{
			"resource": e.mcpURL, "authorization_servers": []any{e.iss.URL()}, "bearer_methods_supported": []any{"header"},
			"scopes_supported": []any{"starter.crm", "starter.echo", "starter.notes", "starter.whoami"}, "resource_name": "idgate-starter",
		}},
		{name: "root metadata", method: "GET", path: "/.well-known/oauth-protected-resource", status: 200,
			keys: []string{"authorization_servers", "bearer_methods_supported", "resource", "resource_name", "scopes_supported"}},
		{name: "gateway JWKS", method: "GET", path: "/.well-known/gateway-jwks.json", status: 200, keys: []string{"keys"}},
		{name: "demo backend health", method: "GET", path: "/demo/health", status: 200, body: map[string]any{"ok": true, "service": "demo-api"}},
		{name: "demo backend wants the gateway's token", method: "POST", path: "/demo/echo", status: 401},
		{name: "favicon", method: "GET", path: "/favicon.ico", status: 204},
		{name: "debug-token needs a token", method: "GET", path: "/debug-token", status: 401},
		{name: "MCP needs a token", method: "POST", path: "/mcp", status: 401},
		{name: "no /authorize", method: "GET", path: "/authorize", status: 404},
		{name: "no /token", method: "POST", path: "/token", status: 404},
		{name: "no /register", method: "POST", path: "/register", status: 404},
		{name: "no AS metadata", method: "GET", path: "/.well-known/oauth-authorization-server", status: 404},
		{name: "POST / is not a route", method: "POST", path: "/", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, "")
			require.Equal(t, tt.status, r.status, r.raw)
			if tt.body != nil {
				require.Equal(t, tt.body, r.body)
			}
			if tt.keys != nil {
				require.Equal(t, tt.keys, keysOf(r.body))
			}
		})
	}
}

// TestDebugToken checks that /debug-token shows the caller's own claims and
// never the token.
func TestDebugToken(t *testing.T) {
	e := newTestEnv(t, nil)
	tok := e.mint("alice", "starter.whoami")
	r := e.do("GET", "/debug-token", "", auth(tok)...)
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, "alice", r.body["sub"])
	require.NotContains(t, r.raw, tok)
}

// TestExtraScopesAdvertised checks that OAUTH_SCOPES adds to
// scopes_supported, without offline_access.
func TestExtraScopesAdvertised(t *testing.T) {
	e := newTestEnv(t, map[string]string{"OAUTH_SCOPES": "openid email offline_access"})
	for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		r := e.do("GET", p, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, "*", r.header.Get("Access-Control-Allow-Origin"))
		got := r.body["scopes_supported"].([]any)
		require.Equal(t, []any{"starter.crm", "starter.echo", "starter.notes", "starter.whoami", "openid", "email"}, got)
		require.Equal(t, e.mcpURL, r.body["resource"])
	}
	r := e.do("HEAD", "/.well-known/oauth-protected-resource/mcp", "")
	require.Equal(t, 200, r.status)
	require.Empty(t, r.raw)
}

// sortStrings sorts s in place.
func sortStrings(s []string) { slices.Sort(s) }
