package mcpserver_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
)

// Config.AdditionalScopes are advertised with the tools' scopes, in the
// metadata and in 401 challenges alike (SPEC 2, 6), and kept in 403
// challenges with StepUpIncludeGrantedScopes when held.
func TestAdditionalScopes(t *testing.T) {
	const all = "crm:read crm:write email notes:read notes:write openid"
	extra := func(c *mcpserver.Config) {
		c.AdditionalScopes = []string{"openid", "email", "crm:read", "openid"}
	}
	e := newEnv(t, stateless, extra)

	t.Run("metadata", func(t *testing.T) {
		for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
			r := e.do(http.MethodGet, path, "")
			require.Equal(t, http.StatusOK, r.Status)
			var md struct {
				ScopesSupported []string `json:"scopes_supported"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.Body), &md))
			require.Equal(t, []string{"crm:read", "crm:write", "email", "notes:read", "notes:write", "openid"}, md.ScopesSupported, path)
		}
		require.Equal(t, []string{"crm:read", "crm:write", "email", "notes:read", "notes:write", "openid"}, e.srv.ProtectedResourceMetadata().ScopesSupported)
	})

	t.Run("401 challenges name the same scopes", func(t *testing.T) {
		for _, headers := range [][]string{nil, bearer(e.iss.Mint(t, identitytest.ExpiresIn(-time.Hour)))} {
			r := e.do(http.MethodPost, "/mcp", initializeBody, headers...)
			require.Equal(t, http.StatusUnauthorized, r.Status)
			chal := r.Header.Get("WWW-Authenticate")
			require.Contains(t, chal, `scope="`+all+`"`)
		}
	})

	t.Run("403 challenges", func(t *testing.T) {
		for _, tc := range []struct {
			include bool
			want    string
		}{
			{false, "crm:read"},
			{true, "crm:read email notes:read openid"},
		} {
			e := newEnv(t, stateless, extra, func(c *mcpserver.Config) { c.StepUpIncludeGrantedScopes = tc.include })
			tok := e.iss.Mint(t, identitytest.Subject("dana"), identitytest.Scopes("openid", "email", "notes:read"))
			r := e.do(http.MethodPost, "/mcp", callBody(2, "salesRead"), with(bearer(tok), []string{"Mcp-Protocol-Version", "2025-06-18"})...)
			require.Equal(t, http.StatusForbidden, r.Status, r.Body)
			require.Equal(t, []string{`Bearer resource_metadata="` + prmURL + `", scope="` + tc.want + `", error="insufficient_scope"`},
				r.Header.Values("WWW-Authenticate"))
		}
	})

	t.Run("with no tool declaring a scope", func(t *testing.T) {
		srv, err := mcpserver.New(mcpserver.Config{
			Name: "n", PublicURL: "https://api.example.com/mcp", InsecureDisableAuth: true, AdditionalScopes: []string{"profile"},
		})
		require.NoError(t, err)
		require.Equal(t, []string{"profile"}, srv.ProtectedResourceMetadata().ScopesSupported)
	})
}

func TestAdditionalScopesInvalid(t *testing.T) {
	tests := []struct {
		name    string
		scopes  []string
		wantErr string
	}{
		{"two scopes in one entry", []string{"openid email"}, `Config.AdditionalScopes[0] "openid email" is not a scope`},
		{"empty", []string{"openid", ""}, `Config.AdditionalScopes[1] "" is not a scope`},
		{"quote", []string{`a"b`}, "Config.AdditionalScopes[0]"},
		{"backslash", []string{`a\b`}, "Config.AdditionalScopes[0]"},
		{"non-ASCII", []string{"café"}, "Config.AdditionalScopes[0]"},
		{"offline_access", []string{"openid", "offline_access"}, "Config.AdditionalScopes[1]: offline_access is never advertised"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := mcpserver.New(mcpserver.Config{
				Name: "n", PublicURL: "https://api.example.com/mcp", InsecureDisableAuth: true, AdditionalScopes: tc.scopes,
			})
			require.ErrorContains(t, err, tc.wantErr)
			require.Nil(t, srv)
		})
	}
}
