package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
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
// scopes_supported, without offline_access, and that 401 challenges, of
// the MCP endpoint and of the REST routes, name the same scopes as the
// metadata.
func TestExtraScopesAdvertised(t *testing.T) {
	e := newTestEnv(t, map[string]string{"OAUTH_SCOPES": "openid email offline_access"})
	want := []any{"email", "openid", "starter.crm", "starter.echo", "starter.notes", "starter.whoami"}
	for _, p := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		r := e.do("GET", p, "")
		require.Equal(t, 200, r.status)
		require.Equal(t, "*", r.header.Get("Access-Control-Allow-Origin"))
		require.Equal(t, want, r.body["scopes_supported"])
		require.Equal(t, e.mcpURL, r.body["resource"])
	}
	r := e.do("HEAD", "/.well-known/oauth-protected-resource/mcp", "")
	require.Equal(t, 200, r.status)
	require.Empty(t, r.raw)

	scope := `scope="email openid starter.crm starter.echo starter.notes starter.whoami"`
	for _, p := range []string{"/mcp", "/tools/echo"} {
		r := e.do("POST", p, `{}`)
		require.Equal(t, 401, r.status, p)
		require.Contains(t, r.header.Get("WWW-Authenticate"), scope, p)
	}
	// The starter keeps granted advertised scopes in 403 challenges
	// (StepUpIncludeGrantedScopes): openid among them.
	tok := e.mint("alice", "openid", "starter.echo")
	r = e.do("POST", "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"crmExplainAccess","arguments":{}}}`,
		append(auth(tok), "Content-Type", "application/json", "Accept", "application/json, text/event-stream", "Mcp-Protocol-Version", "2025-06-18")...)
	require.Equal(t, 403, r.status, r.raw)
	require.Contains(t, r.header.Get("WWW-Authenticate"), `scope="openid starter.crm starter.echo"`)
}

// sortStrings sorts s in place.
func sortStrings(s []string) { slices.Sort(s) }

// TestBackendNeverGetsTheUserToken checks SPEC 22 at the wire: what reaches
// the backend is a short-lived token the gateway signed for the backend
// alone, never the user's token.
func TestBackendNeverGetsTheUserToken(t *testing.T) {
	got := make(chan string, 1)
	backend := newHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true,"message":"hi","summary":"Echo: hi"}`)
	}))
	e := newTestEnv(t, map[string]string{"DEMO_API_URL": backend + "/demo/"})
	tok := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.Audience(e.mcpURL),
		identitytest.Scopes("starter.echo", "admin"), identitytest.Email("alice@example.com"))
	e.tokens = append(e.tokens, tok)
	r := e.do("POST", "/tools/echo", `{"message":"hi"}`, auth(tok)...)
	require.Equal(t, 200, r.status, r.raw)

	authz := <-got
	bt, ok := strings.CutPrefix(authz, "Bearer ")
	require.True(t, ok, authz)
	require.NotEqual(t, tok, bt)
	parts := strings.Split(bt, ".")
	require.Len(t, parts, 3)
	var header, claims map[string]any
	for i, v := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, v))
	}
	require.Equal(t, "at+jwt", header["typ"])
	require.Equal(t, e.mcpURL, claims["iss"], "issued by the gateway")
	require.Equal(t, backend+"/demo/", claims["aud"], "for the backend alone")
	require.Equal(t, "alice", claims["sub"])
	require.Equal(t, "starter.echo", claims["scope"], "only the tools' scopes the user holds")
	require.Equal(t, 60.0, claims["exp"].(float64)-claims["iat"].(float64))
	require.Equal(t, e.iss.URL(), claims["user_iss"])
	require.Equal(t, e.mcpURL, claims["user_aud"])
	require.Equal(t, "alice@example.com", claims["email"])
}

// TestMCPOriginPolicy checks SPEC 25 on the MCP endpoint: an Origin that is
// present and not allowed gets 403 even with a valid token; APP_ORIGIN's
// is served.
func TestMCPOriginPolicy(t *testing.T) {
	e := newTestEnv(t, map[string]string{"APP_ORIGIN": "https://app.example.com"})
	tok := e.mint("alice", allScopes...)
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	hdr := append(auth(tok), "Accept", "application/json, text/event-stream")
	r := e.do("POST", "/mcp", init, append(hdr, "Origin", "https://evil.example")...)
	require.Equal(t, 403, r.status, r.raw)
	r = e.do("POST", "/mcp", init, append(hdr, "Origin", "https://app.example.com")...)
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, "https://app.example.com", r.header.Get("Access-Control-Allow-Origin"))
}
