package identity_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// Both verifiers report the audiences they were configured with, as
// configured, and a caller modifying the answer changes nothing.
func TestVerifiersReportAudiences(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	auds := []string{"https://mcp.example.com/mcp/", "api://crm"}
	jv := newVerifier(t, iss, func(c *identity.JWTConfig) { c.Audiences = auds })
	cfg := introspectionConfig(iss)
	cfg.Audiences = auds
	iv := newIntrospectionVerifier(t, cfg)
	for name, v := range map[string]identity.Verifier{"jwt": jv, "introspection": iv} {
		t.Run(name, func(t *testing.T) {
			ar, ok := v.(identity.AudienceReporter)
			require.True(t, ok)
			got := ar.Audiences()
			require.Equal(t, auds, got)
			got[0] = "https://evil.example"
			require.Equal(t, auds, ar.Audiences())
			// The audiences reported are those accepted.
			tok := iss.Mint(t, identitytest.Audience("api://crm"))
			if name == "introspection" {
				tok = iss.MintOpaque(t, identitytest.Audience("api://crm"))
			}
			_, err := v.Verify(context.Background(), tok)
			require.NoError(t, err)
		})
	}
	require.Equal(t, []string{"https://mcp.example.com/mcp/", "api://crm"}, auds)
}
