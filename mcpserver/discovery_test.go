package mcpserver_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// SPEC 1–4: protected-resource metadata.
func TestProtectedResourceMetadata(t *testing.T) {
	e := newEnv(t)
	want := map[string]any{
		"resource":                 publicURL,
		"authorization_servers":    []any{e.iss.URL()},
		"bearer_methods_supported": []any{"header"},
		"scopes_supported":         []any{"crm:read", "crm:write", "notes:read", "notes:write"},
		"resource_name":            "crm",
	}
	tests := []struct {
		name    string
		method  string
		path    string
		headers []string
	}{
		{"path-aware", http.MethodGet, "/.well-known/oauth-protected-resource/mcp", nil},
		{"root", http.MethodGet, "/.well-known/oauth-protected-resource", nil},
		{"HEAD", http.MethodHead, "/.well-known/oauth-protected-resource/mcp", nil},
		{"Host: evil.example", http.MethodGet, "/.well-known/oauth-protected-resource/mcp", []string{"Host", "evil.example"}},
		{"X-Forwarded-*", http.MethodGet, "/.well-known/oauth-protected-resource/mcp",
			[]string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http", "Forwarded", "host=evil.example;proto=http"}},
		{"cross-origin browser", http.MethodGet, "/.well-known/oauth-protected-resource", []string{"Origin", "https://evil.example"}},
		{"a bad token does not matter", http.MethodGet, "/.well-known/oauth-protected-resource/mcp", bearer("garbage")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(tc.method, tc.path, "", tc.headers...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.Equal(t, "application/json", r.Header.Get("Content-Type"))
			require.Equal(t, "*", r.Header.Get("Access-Control-Allow-Origin"))
			if tc.method == http.MethodHead {
				require.Empty(t, r.Body)
				require.NotEqual(t, "0", r.Header.Get("Content-Length"))
				return
			}
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.Body), &got))
			require.Equal(t, want, got)
		})
	}

	t.Run("preflight", func(t *testing.T) {
		r := e.do(http.MethodOptions, "/.well-known/oauth-protected-resource/mcp", "",
			"Origin", "https://app.example.com", "Access-Control-Request-Method", "GET",
			"Access-Control-Request-Headers", "mcp-protocol-version")
		require.Equal(t, http.StatusNoContent, r.Status)
		require.Equal(t, "*", r.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, r.Header.Get("Access-Control-Allow-Headers"), "Mcp-Protocol-Version")
	})
	t.Run("POST refused", func(t *testing.T) {
		r := e.do(http.MethodPost, "/.well-known/oauth-protected-resource", "{}")
		require.Equal(t, http.StatusMethodNotAllowed, r.Status)
	})
}

func TestMetadataScopes(t *testing.T) {
	tests := []struct {
		name  string
		tools map[string]scopes.Requirement
		want  []string // nil: scopes_supported absent
	}{
		{"no tools: omitted", nil, nil},
		{"public tools only: omitted", map[string]scopes.Requirement{"a": scopes.Public()}, nil},
		{"never offline_access", map[string]scopes.Requirement{"a": scopes.All("offline_access", "x:read")}, []string{"x:read"}},
		{"union, sorted, once", map[string]scopes.Requirement{"a": scopes.All("b", "a"), "b": scopes.Any("a", "c")}, []string{"a", "b", "c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := mcpserver.New(mcpserver.Config{
				Name: "n", PublicURL: "https://api.example.com/", InsecureDisableAuth: true,
			})
			require.NoError(t, err)
			for name, req := range tc.tools {
				mcpserver.AddTool(srv, newTool(name), req, noop)
			}
			require.Equal(t, tc.want, srv.ProtectedResourceMetadata().ScopesSupported)
			require.Equal(t, "https://api.example.com/.well-known/oauth-protected-resource", srv.ProtectedResourceMetadataURL())

			e := serve(t, srv.Handler())
			r := e.do(http.MethodGet, "/.well-known/oauth-protected-resource", "")
			require.Equal(t, http.StatusOK, r.Status)
			var got map[string]any
			require.NoError(t, json.Unmarshal([]byte(r.Body), &got))
			_, present := got["scopes_supported"]
			require.Equal(t, tc.want != nil, present, r.Body)
			require.Equal(t, "https://api.example.com/", got["resource"])
		})
	}
}

func TestMetadataFollowsAddTool(t *testing.T) {
	e := newEnv(t)
	mcpserver.AddTool(e.srv, newTool("admin"), scopes.All("admin"), noop)
	r := e.do(http.MethodGet, "/.well-known/oauth-protected-resource/mcp", "")
	require.Contains(t, r.Body, `"scopes_supported":["admin","crm:read","crm:write","notes:read","notes:write"]`)
	// The 401 challenge follows too.
	r = e.do(http.MethodPost, "/mcp", initializeBody)
	require.Equal(t, `Bearer resource_metadata="`+prmURL+`", scope="admin `+wantScopes+`"`, r.Header.Get("WWW-Authenticate"))
}

// SPEC 5: never an authorization server.
func TestNoAuthorizationServerEndpoints(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/authorize", "/token", "/register", "/.well-known/oauth-authorization-server",
		"/.well-known/openid-configuration", "/mcp/", "/debug-token"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			t.Run(method+" "+path, func(t *testing.T) {
				r := e.do(method, path, "", bearer(e.alice)...)
				require.Equal(t, http.StatusNotFound, r.Status)
			})
		}
	}
}

func TestHealthz(t *testing.T) {
	e := newEnv(t)
	r := e.do(http.MethodGet, "/healthz", "")
	require.Equal(t, http.StatusOK, r.Status)
	require.JSONEq(t, `{"status":"ok"}`, r.Body)
}
