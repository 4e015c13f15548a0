package identity_test

import (
	"context"
	"fmt"
	"testing"

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
