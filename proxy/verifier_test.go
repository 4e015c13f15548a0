package proxy_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
)

// jwtVerifier returns the verifier a backend (or the gateway) would use:
// identity.NewJWTVerifier for issuer and audience, keys from jwksURL.
// jwtVerifierConfig takes the whole configuration.
func jwtVerifier(t *testing.T, issuer, jwksURL, audience string) identity.Verifier {
	t.Helper()
	return jwtVerifierConfig(t, identity.JWTConfig{Issuer: issuer, Audiences: []string{audience}, JWKSURL: jwksURL})
}

func jwtVerifierConfig(t *testing.T, cfg identity.JWTConfig) identity.Verifier {
	t.Helper()
	v, err := identity.NewJWTVerifier(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(v.Close)
	return v
}
