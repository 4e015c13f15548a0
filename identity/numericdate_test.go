package identity_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// outOfRangeDates are "nbf", "iat" and "exp" values too large to be a
// time: converted unchecked they overflow, and a date in the far future
// reads as one long past.
var outOfRangeDates = []struct {
	claim string
	value float64
}{
	{"nbf", 1e300},
	{"nbf", 9.3e18},
	{"nbf", -1e300},
	{"iat", 1e300},
	{"iat", 9.3e18},
	{"exp", 1e300},
}

// TestJWTTimeClaimOutOfRange checks that a signed token whose "nbf" or
// "iat" lies beyond any representable time is refused as malformed,
// not taken as a date in the past (SPEC 17: nbf enforced).
func TestJWTTimeClaimOutOfRange(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	for _, c := range outOfRangeDates {
		t.Run(fmt.Sprintf("%s %g", c.claim, c.value), func(t *testing.T) {
			tok := iss.Mint(t, identitytest.Claim(c.claim, c.value))
			_, err := v.Verify(context.Background(), tok)
			requireVerifyError(t, err, identity.ErrMalformedToken, tok)
		})
	}
	// The bound leaves real dates, even absurdly distant ones, alone.
	_, err := v.Verify(context.Background(), iss.Mint(t, identitytest.Claim("exp", 1e15)))
	require.NoError(t, err)
	_, err = v.Verify(context.Background(), iss.Mint(t, identitytest.Claim("nbf", 1e15)))
	requireVerifyError(t, err, identity.ErrNotYetValid, "")
}

// TestIntrospectionTimeOutOfRange is TestJWTTimeClaimOutOfRange for an
// introspection response: a malformed answer, so the token cannot be
// judged (fail closed), rather than a token valid since long ago.
func TestIntrospectionTimeOutOfRange(t *testing.T) {
	fake := &fakeIntrospection{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	const aud = "https://mcp.example.com/mcp"
	v := newIntrospectionVerifier(t, identity.IntrospectionConfig{
		Endpoint: srv.URL + "/introspect", ClientID: "c", ClientSecret: "s",
		Issuer: "https://idp.example", Audiences: []string{aud}, CacheTTL: -1,
	})
	now := time.Now().Unix()
	for i, c := range outOfRangeDates {
		t.Run(fmt.Sprintf("%s %g", c.claim, c.value), func(t *testing.T) {
			claims := fmt.Sprintf(`"active":true,"sub":"a","aud":%q,"iss":"https://idp.example"`, aud)
			if c.claim != "exp" {
				claims += fmt.Sprintf(`,"exp":%d`, now+3600)
			}
			fake.set(0, fmt.Sprintf(`{%s,%q:%g}`, claims, c.claim, c.value))
			_, err := v.Verify(context.Background(), fmt.Sprintf("opaque-token-%d", i))
			require.ErrorIs(t, err, identity.ErrVerifierUnavailable)
		})
	}
	fake.set(0, fmt.Sprintf(`{"active":true,"sub":"a","aud":%q,"iss":"https://idp.example","nbf":1e15}`, aud))
	_, err := v.Verify(context.Background(), "opaque-token-far")
	require.ErrorIs(t, err, identity.ErrNotYetValid)
}
