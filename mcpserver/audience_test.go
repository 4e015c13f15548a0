package mcpserver_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
)

// New warns, naming both, when the Verifier reports its audiences and
// none is PublicURL (up to a trailing slash); it still starts the server,
// since Entra ID and Okta legitimately use api:// audiences.
func TestAudienceWarning(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	jwtVerifier := func(auds ...string) identity.Verifier {
		v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{Issuer: iss.URL(), Audiences: auds, JWKSURL: iss.JWKSURL()})
		require.NoError(t, err)
		t.Cleanup(v.Close)
		return v
	}
	introspectionVerifier := func(auds ...string) identity.Verifier {
		id, secret := iss.ClientCredentials()
		v, err := identity.NewIntrospectionVerifier(identity.IntrospectionConfig{
			Endpoint: iss.IntrospectionURL(), ClientID: id, ClientSecret: secret, Issuer: iss.URL(), Audiences: auds,
		})
		require.NoError(t, err)
		return v
	}
	tests := []struct {
		name     string
		verifier identity.Verifier
		warn     bool
	}{
		{"JWT verifier for PublicURL", jwtVerifier(publicURL), false},
		{"JWT verifier for PublicURL with a trailing slash", jwtVerifier(publicURL + "/"), false},
		{"JWT verifier for PublicURL among others", jwtVerifier("api://crm", publicURL), false},
		{"JWT verifier for an api:// audience", jwtVerifier("api://crm"), true},
		{"JWT verifier for another URL", jwtVerifier("https://mcp.example.com/other"), true},
		{"JWT verifier for a prefix of PublicURL", jwtVerifier("https://mcp.example.com"), true},
		{"introspection verifier for PublicURL", introspectionVerifier(publicURL), false},
		{"introspection verifier for an api:// audience", introspectionVerifier("api://crm"), true},
		{"verifier that does not report audiences", identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) {
			return nil, identity.ErrBadAudience
		}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logBuffer{}
			srv, err := mcpserver.New(mcpserver.Config{
				Name:                 "crm",
				PublicURL:            publicURL,
				AuthorizationServers: []string{iss.URL()},
				Verifier:             tc.verifier,
				Logger:               slog.New(slog.NewJSONHandler(logs, nil)),
			})
			require.NoError(t, err)
			var warnings []map[string]any
			for _, line := range linesOf(t, logs) {
				if line["level"] == "WARN" {
					warnings = append(warnings, line)
				}
			}
			if !tc.warn {
				require.Empty(t, warnings)
			} else {
				require.Len(t, warnings, 1)
				w := warnings[0]
				require.Contains(t, w["msg"], "Config.PublicURL")
				require.Equal(t, publicURL, w["public_url"])
				var auds []string
				require.NoError(t, remarshal(w["verifier_audiences"], &auds))
				require.Equal(t, tc.verifier.(identity.AudienceReporter).Audiences(), auds)
			}
			// Either way the server serves.
			r := serve(t, srv.Handler()).do(http.MethodGet, "/healthz", "")
			require.Equal(t, http.StatusOK, r.Status)
		})
	}
}

// linesOf decodes every JSON log line written to b.
func linesOf(t *testing.T, b *logBuffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &m), line)
		out = append(out, m)
	}
	return out
}
