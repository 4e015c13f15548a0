package proxy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/proxy"
)

// payloadOf decodes the claims of a JWT without verifying it.
func payloadOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var cl map[string]any
	require.NoError(t, json.Unmarshal(raw, &cl))
	return cl
}

// With ReuseFor, a token is sent again to the same identity while it is
// fresh enough, and never to another identity.
func TestSignerReuse(t *testing.T) {
	start := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name      string
		later     time.Duration // when the second call is made
		sameID    bool
		wantReuse bool
	}{
		{"same identity at once", 0, true, true},
		{"same identity within ReuseFor", 29 * time.Second, true, true},
		{"same identity at ReuseFor", 30 * time.Second, true, false},
		{"same identity later", 45 * time.Second, true, false},
		{"clock went back", -time.Second, true, false},
		{"another identity at once", 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), ReuseFor: 30 * time.Second})
			require.NoError(t, err)
			now := start
			s.SetClock(func() time.Time { return now })
			id := alice()
			first, err := s.Token(context.Background(), id)
			require.NoError(t, err)
			now = start.Add(tt.later)
			other := id
			if !tt.sameID {
				other = alice() // same user, another verified token
			}
			second, err := s.Token(context.Background(), other)
			require.NoError(t, err)
			if tt.wantReuse {
				require.Equal(t, first, second)
				// Whenever it is sent, a token has at least TTL-ReuseFor left.
				exp := int64(payloadOf(t, second)["exp"].(float64))
				require.GreaterOrEqual(t, exp-now.Unix(), int64(30))
				return
			}
			require.NotEqual(t, first, second)
			require.Equal(t, now.Unix(), int64(payloadOf(t, second)["iat"].(float64)), "a new token is minted now")
		})
	}
}

// TestSignerReuseLifetimeLeft: a token minted part-way through a second has
// an "exp" up to a second short of mint time + TTL, since "exp" is in whole
// seconds; it is reused only while it has TTL-ReuseFor left by that exp.
func TestSignerReuseLifetimeLeft(t *testing.T) {
	s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), TTL: time.Minute, ReuseFor: 30 * time.Second})
	require.NoError(t, err)
	mintAt := time.Unix(1_800_000_000, 999_000_000)
	now := mintAt
	s.SetClock(func() time.Time { return now })
	id := alice()
	first, err := s.Token(context.Background(), id)
	require.NoError(t, err)
	exp := time.Unix(int64(payloadOf(t, first)["exp"].(float64)), 0)
	require.Equal(t, mintAt.Add(time.Minute).Truncate(time.Second), exp)
	for _, step := range []struct {
		later time.Duration
		reuse bool
	}{
		{0, true},
		{29 * time.Second, true}, // 30.001s left
		{29*time.Second + 2*time.Millisecond, false}, // 29.999s left
	} {
		now = mintAt.Add(step.later)
		tok, err := s.Token(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, step.reuse, tok == first, "%v after minting, %v left", step.later, exp.Sub(now))
	}
}

// A reused token is a valid token: a backend verifying every request with
// golang-jwt accepts it each time.
func TestSignerReuseAcceptedByBackend(t *testing.T) {
	s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), ReuseFor: 30 * time.Second})
	require.NoError(t, err)
	be := signedBy(t, s, "EdDSA")
	c, err := proxy.New(proxy.Config{BaseURL: be.URL, Credential: s})
	require.NoError(t, err)
	id := alice()
	var jtis []any
	for range 3 {
		var v verified
		require.NoError(t, c.Do(context.Background(), id, http.MethodGet, "x", nil, &v))
		require.Equal(t, "auth0|alice", v.Claims["sub"])
		jtis = append(jtis, v.Claims["jti"])
	}
	require.Equal(t, jtis[0], jtis[1])
	require.Equal(t, jtis[0], jtis[2])
}

func TestSignerReuseForBounds(t *testing.T) {
	tests := []struct {
		name     string
		ttl      time.Duration
		reuseFor time.Duration
		ok       bool
	}{
		{"off", 0, 0, true},
		{"half the default TTL", 0, 30 * time.Second, true},
		{"more than half the default TTL", 0, 31 * time.Second, false},
		{"half a longer TTL", 5 * time.Minute, 150 * time.Second, true},
		{"negative", 0, -time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), TTL: tt.ttl, ReuseFor: tt.reuseFor})
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, "SignerConfig.ReuseFor")
		})
	}
}

// The tokens kept are bounded, and concurrent callers for one identity
// all get a valid token.
func TestSignerReuseBoundedAndConcurrent(t *testing.T) {
	s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), ReuseFor: 30 * time.Second})
	require.NoError(t, err)
	for range proxy.SignerReuseMaxEntries + 50 {
		_, err := s.Token(context.Background(), alice())
		require.NoError(t, err)
	}
	require.LessOrEqual(t, s.ReuseLen(), proxy.SignerReuseMaxEntries)

	id := alice()
	var wg sync.WaitGroup
	toks := make([]string, 16)
	for i := range toks {
		wg.Go(func() {
			tok, err := s.Token(context.Background(), id)
			if err == nil {
				toks[i] = tok
			}
		})
	}
	wg.Wait()
	for _, tok := range toks {
		require.Equal(t, "auth0|alice", payloadOf(t, tok)["sub"])
	}
}

// Sending a reused token allocates only the Authorization header.
func TestSignerReuseAllocations(t *testing.T) {
	s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), ReuseFor: 30 * time.Second})
	require.NoError(t, err)
	id := alice()
	ctx := context.Background()
	_, err = s.Token(ctx, id)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := s.Token(ctx, id); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}
