package identity_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// allSentinels lists every sentinel error of package identity.
var allSentinels = []error{
	identity.ErrMissingToken, identity.ErrInvalidRequest, identity.ErrMalformedToken,
	identity.ErrEncryptedToken, identity.ErrOpaqueToken, identity.ErrExpired,
	identity.ErrNotYetValid, identity.ErrMissingClaim, identity.ErrBadIssuer,
	identity.ErrBadAudience, identity.ErrBadType, identity.ErrBoundToken, identity.ErrBadAlgorithm,
	identity.ErrBadSignature, identity.ErrUnknownKey, identity.ErrUnsupportedHeader,
	identity.ErrInactive, identity.ErrKeysUnavailable, identity.ErrVerifierUnavailable,
}

// requireVerifyError checks that err wraps want and no other sentinel, and
// that its text does not contain the token.
func requireVerifyError(t testing.TB, err error, want error, token string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, want)
	var wrapped []error
	for _, s := range allSentinels {
		if errors.Is(err, s) {
			wrapped = append(wrapped, s)
		}
	}
	require.Len(t, wrapped, 1, "error %q wraps %v", err, wrapped)
	if len(token) >= 16 {
		require.NotContains(t, err.Error(), token)
	}
}

// fakeClock is a frozen clock the test moves. It starts at the real time so
// that tokens minted by identitytest are valid.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newVerifier returns a verifier for iss with its JWKS URL configured,
// after applying mod, and closes it when the test ends.
func newVerifier(t testing.TB, iss *identitytest.Issuer, mod func(*identity.JWTConfig)) *identity.JWTVerifier {
	t.Helper()
	cfg := identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{iss.Audience()},
		JWKSURL:   iss.JWKSURL(),
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := identity.NewJWTVerifier(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(v.Close)
	return v
}

// switchableTransport fails every request while down, as an unreachable
// issuer would, and counts requests.
type switchableTransport struct {
	down     atomic.Bool
	requests atomic.Int32
}

func (s *switchableTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.requests.Add(1)
	if s.down.Load() {
		return nil, errors.New("connection refused (simulated)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// tamper changes the subject in a token's payload, keeping its signature.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		panic(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		panic(err)
	}
	claims["sub"] = "admin"
	payload, err = json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}
