package proxy_test

import (
	"context"
	"crypto/elliptic"
	"fmt"
	"testing"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

func elliptic256() elliptic.Curve { return elliptic.P256() }

// jwtVerifier is a stand-in for identity.NewJWTVerifier while it is being
// written: golang-jwt against the JWKS at jwksURL.
func jwtVerifier(t *testing.T, issuer, jwksURL, audience string) identity.Verifier {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwksURL})
	require.NoError(t, err)
	return identity.VerifierFunc(func(ctx context.Context, tok string) (*identity.Identity, error) {
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(tok, claims, kf.Keyfunc, jwt.WithIssuer(issuer), jwt.WithAudience(audience),
			jwt.WithExpirationRequired(), jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", identity.ErrBadSignature, err)
		}
		aud, _ := claims.GetAudience()
		sub, _ := claims.GetSubject()
		iss, _ := claims.GetIssuer()
		scope, _ := claims["scope"].(string)
		email, _ := claims["email"].(string)
		return identity.Identity{Subject: sub, Issuer: iss, Audience: aud, Scopes: scopes.Parse(scope), Email: email, Claims: claims}.WithToken(tok), nil
	})
}
