package identity_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// TestScopeClaimSplitsOnSpaceOnly: a string scope claim is a list of scope
// tokens separated by spaces (RFC 6749 §3.3: scope-token *( SP
// scope-token )), as JWTConfig.ScopeClaims and
// IntrospectionConfig.ScopeClaims say. Other whitespace is not a separator:
// "notes:read\u00a0crm:write" is one (malformed) scope, and must not grant
// crm:write. Authorization servers with dynamic or free-form scopes (a
// prefix followed by whatever the client asked for) issue such strings
// verbatim; splitting them on every Unicode space, as strings.Fields did,
// granted the caller a scope it chose.
func TestScopeClaimSplitsOnSpaceOnly(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	jwtV, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{iss.Audience()},
	})
	require.NoError(t, err)
	t.Cleanup(jwtV.Close)
	introV := newIntrospectionVerifier(t, introspectionConfig(iss))

	// The handler answers with the caller's scopes, each quoted.
	scopesOf := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := identity.FromContext(r.Context())
		var out []string
		for s := range id.Scopes.All {
			out = append(out, strconv.Quote(s))
		}
		fmt.Fprint(w, out)
	})
	verifiers := map[string]struct {
		v    identity.Verifier
		mint func(...identitytest.TokenOption) string
	}{
		"jwt":           {jwtV, func(o ...identitytest.TokenOption) string { return iss.Mint(t, o...) }},
		"introspection": {introV, func(o ...identitytest.TokenOption) string { return iss.MintOpaque(t, o...) }},
	}
	tests := []struct {
		scope, want string
	}{
		{"notes:read crm:write", `["crm:write" "notes:read"]`},
		{"  notes:read   crm:write ", `["crm:write" "notes:read"]`},
		{"notes:read\u00a0crm:write", `["notes:read\u00a0crm:write"]`},
		{"notes:read\ncrm:write", `["notes:read\ncrm:write"]`},
		{"notes:read\rcrm:write", `["notes:read\rcrm:write"]`},
		{"notes:read\vcrm:write", `["notes:read\vcrm:write"]`},
		{"notes:read\fcrm:write", `["notes:read\fcrm:write"]`},
		{"notes:read\u2003crm:write", `["notes:read\u2003crm:write"]`},
		{"notes:read\u0085crm:write", `["notes:read\u0085crm:write"]`},
		{"notes:read\tcrm:write", `["notes:read\tcrm:write"]`},
	}
	for name, vv := range verifiers {
		srv := httptest.NewServer(identity.Middleware(vv.v, identity.MiddlewareConfig{})(scopesOf))
		t.Cleanup(srv.Close)
		for _, tt := range tests {
			t.Run(name+" "+strconv.Quote(tt.scope), func(t *testing.T) {
				tok := vv.mint(identitytest.Subject("mallory"), identitytest.Claim("scope", tt.scope))
				got := do(t, srv, http.MethodGet, "/", "Authorization", "Bearer "+tok)
				require.Equal(t, http.StatusOK, got.status, got.body)
				require.Equal(t, tt.want, got.body)
			})
		}
	}
}

// TestParseChallengesScopeSplitsOnSpaceOnly: a challenge's scope
// parameter is split as every other scope string is (scopes.Parse, the
// verifiers' scope claims): on spaces only. A tab or a Unicode space,
// both allowed in a quoted-string, is part of its scope; splitting there
// would have a client ask for "admin" where the server named one scope.
func TestParseChallengesScopeSplitsOnSpaceOnly(t *testing.T) {
	for _, sep := range []string{"\t", "\u00a0", "\u2003", "\u0085"} {
		cs, err := identity.ParseChallenges(`Bearer scope=" notes:x` + sep + `admin  crm:read "`)
		require.NoError(t, err, "%q", sep)
		require.Len(t, cs, 1)
		require.Equal(t, []string{"notes:x" + sep + "admin", "crm:read"}, cs[0].Scope, "%q", sep)
	}
}
