package proxy_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
)

// TestSignerClaimsHook covers SignerConfig.Claims: the claims it returns
// reach the backend, verified; a claim the Signer sets or that carries
// authority is refused before anything is sent.
func TestSignerClaimsHook(t *testing.T) {
	userFacts := func(id *identity.Identity) map[string]any {
		return map[string]any{
			"user_iss":         "https://tenant.example.com/",
			"user_aud":         id.Audience,
			"user_exp":         1893456000,
			"user_permissions": []string{"read:crm"},
		}
	}
	tests := []struct {
		name      string
		hook      func(*identity.Identity) map[string]any
		wantClaim map[string]any // claims the backend must see
		wantErr   string         // non-empty: Apply fails with ErrSignFailed and this text
	}{
		{
			name: "facts about the user's token",
			hook: userFacts,
			wantClaim: map[string]any{
				"user_iss":         "https://tenant.example.com/",
				"user_aud":         []any{"https://mcp.example.com/mcp"},
				"user_exp":         1893456000.0,
				"user_permissions": []any{"read:crm"},
				"sub":              "auth0|alice",
				"scope":            "crm:read crm:write notes:read",
			},
		},
		{
			name:      "overrides a copied claim",
			hook:      func(*identity.Identity) map[string]any { return map[string]any{"email": "masked@example.com"} },
			wantClaim: map[string]any{"email": "masked@example.com"},
		},
		{
			name:      "nil map adds nothing",
			hook:      func(*identity.Identity) map[string]any { return nil },
			wantClaim: map[string]any{"email": "alice@example.com"},
		},
		{"sub refused", func(*identity.Identity) map[string]any { return map[string]any{"sub": "bob"} }, nil, `returned "sub"`},
		{"aud refused", func(*identity.Identity) map[string]any { return map[string]any{"aud": "https://other.example.com"} }, nil, `returned "aud"`},
		{"exp refused", func(*identity.Identity) map[string]any { return map[string]any{"exp": 1} }, nil, `returned "exp"`},
		{"scope refused", func(*identity.Identity) map[string]any { return map[string]any{"scope": "admin"} }, nil, `returned "scope"`},
		{"permissions refused", func(*identity.Identity) map[string]any { return map[string]any{"permissions": []string{"admin"}} }, nil, `returned "permissions"`},
		{"roles refused", func(*identity.Identity) map[string]any { return map[string]any{"roles": []string{"admin"}} }, nil, `returned "roles"`},
		{"groups refused", func(*identity.Identity) map[string]any { return map[string]any{"groups": []string{"admins"}} }, nil, `returned "groups"`},
		{"acr refused", func(*identity.Identity) map[string]any { return map[string]any{"acr": "phr"} }, nil, `returned "acr"`},
		{"amr refused", func(*identity.Identity) map[string]any { return map[string]any{"amr": []string{"mfa"}} }, nil, `returned "amr"`},
		{"empty name refused", func(*identity.Identity) map[string]any { return map[string]any{"": 1} }, nil, `returned ""`},
		{"unencodable value", func(*identity.Identity) map[string]any { return map[string]any{"x": make(chan int)} }, nil, "encode claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := proxy.NewSigner(proxy.SignerConfig{
				Issuer:     gatewayIssuer,
				Audience:   crmAudience,
				Key:        edKey(t),
				CopyClaims: []string{"email"},
				Claims:     tt.hook,
			})
			require.NoError(t, err)
			if tt.wantErr != "" {
				be := newBackend(t, nil)
				c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: s})
				require.NoError(t, err)
				err = c.Do(context.Background(), alice(), http.MethodGet, "whoami", nil, nil)
				require.ErrorIs(t, err, proxy.ErrSignFailed)
				require.ErrorContains(t, err, tt.wantErr)
				require.Zero(t, be.calls.Load(), "nothing is sent when the hook is refused")
				return
			}
			be := signedBy(t, s, "EdDSA")
			c, err := proxy.New(proxy.Config{BaseURL: be.URL, Credential: s})
			require.NoError(t, err)
			var got verified
			require.NoError(t, c.Do(context.Background(), alice(), http.MethodGet, "whoami", nil, &got))
			require.Equal(t, gatewayIssuer, got.Claims["iss"])
			require.Equal(t, crmAudience, got.Claims["aud"])
			for k, v := range tt.wantClaim {
				require.Equal(t, v, got.Claims[k], k)
			}
		})
	}
}
