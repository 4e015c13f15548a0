package proxy_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/proxy"
)

// A minted token never outlives the user's own token: "exp" is TTL from
// now or the identity's ExpiresAt, whichever is sooner.
func TestSignerExpiryCappedByUserToken(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name    string
		userExp time.Time // zero: the identity has no expiry
		wantExp time.Time
	}{
		{"no user expiry", time.Time{}, now.Add(time.Minute)},
		{"user token outlives the TTL", now.Add(time.Hour), now.Add(time.Minute)},
		{"user token expires at the TTL", now.Add(time.Minute), now.Add(time.Minute)},
		{"user token expires sooner", now.Add(10 * time.Second), now.Add(10 * time.Second)},
		{"user token expired within the verifier's leeway", now.Add(-5 * time.Second), now.Add(-5 * time.Second)},
		{"fraction of a second rounds down", now.Add(10*time.Second + 900*time.Millisecond), now.Add(10 * time.Second)},
	}
	for _, tt := range tests {
		for _, reuse := range []time.Duration{0, 30 * time.Second} {
			t.Run(tt.name+"/reuse "+reuse.String(), func(t *testing.T) {
				s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), ReuseFor: reuse})
				require.NoError(t, err)
				s.SetClock(func() time.Time { return now })
				id := alice()
				id.ExpiresAt = tt.userExp
				tok, err := s.Token(context.Background(), id)
				require.NoError(t, err)
				cl := payloadOf(t, tok)
				require.Equal(t, tt.wantExp.Unix(), int64(cl["exp"].(float64)))
				require.Equal(t, now.Unix(), int64(cl["iat"].(float64)))
			})
		}
	}
}

// With ReuseFor, a token whose exp is the user's is sent again only until
// then: no token sent ever names a later exp than the user's token, and
// none is sent again once expired.
func TestSignerReuseUntilUserExpiry(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), ReuseFor: 30 * time.Second})
	require.NoError(t, err)
	now := start
	s.SetClock(func() time.Time { return now })
	id := alice()
	id.ExpiresAt = start.Add(10 * time.Second)

	first, err := s.Token(context.Background(), id)
	require.NoError(t, err)
	steps := []struct {
		at        time.Duration
		wantFirst bool
	}{
		{5 * time.Second, true},
		{9 * time.Second, true},
		{10 * time.Second, false}, // the first token's exp: a new one is minted
		{20 * time.Second, false},
	}
	for _, st := range steps {
		now = start.Add(st.at)
		tok, err := s.Token(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, st.wantFirst, tok == first, "at %v", st.at)
		cl := payloadOf(t, tok)
		require.LessOrEqual(t, int64(cl["exp"].(float64)), id.ExpiresAt.Unix(), "at %v", st.at)
		if !st.wantFirst {
			require.Equal(t, now.Unix(), int64(cl["iat"].(float64)), "at %v: minted now", st.at)
		}
	}
}

// Over HTTP, with an identity verified from a real user token: the backend
// receives a token that expires with the user's.
func TestSignerExpiryThroughBackend(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	userExp := time.Now().Add(20 * time.Second).Truncate(time.Second)
	id := gatewayIdentity(t, iss, iss.Mint(t, identitytest.Subject("alice"), identitytest.ExpiresAt(userExp)))
	require.Equal(t, userExp.Unix(), id.ExpiresAt.Unix())

	for _, reuse := range []time.Duration{0, 30 * time.Second} {
		t.Run("reuse "+reuse.String(), func(t *testing.T) {
			s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), TTL: 5 * time.Minute, ReuseFor: reuse})
			require.NoError(t, err)
			be := signedBy(t, s, "EdDSA")
			c, err := proxy.New(proxy.Config{BaseURL: be.URL, Credential: s})
			require.NoError(t, err)
			for range 2 {
				var v verified
				require.NoError(t, c.Do(context.Background(), id, http.MethodGet, "x", nil, &v))
				require.Equal(t, "alice", v.Claims["sub"])
				require.Equal(t, userExp.Unix(), int64(v.Claims["exp"].(float64)))
			}
		})
	}
}
