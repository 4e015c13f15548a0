package proxy_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/proxy"
)

// seen is what a protected backend answers: who the verified token says the
// caller is.
type seen struct {
	Subject  string   `json:"sub"`
	Issuer   string   `json:"iss"`
	Audience []string `json:"aud"`
	Scopes   []string `json:"scopes"`
	Email    string   `json:"email"`
	Token    string   `json:"token"` // the raw token received, to compare in tests
}

// protectedBackend starts a backend behind identity.Middleware with v. calls
// counts every request that reaches the server, admitted or not.
type protectedBackend struct {
	srv   *httptest.Server
	calls atomic.Int64
}

func newProtectedBackend(t *testing.T, v identity.Verifier) *protectedBackend {
	t.Helper()
	b := &protectedBackend{}
	h := identity.Middleware(v, identity.MiddlewareConfig{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := identity.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(seen{
			Subject: id.Subject, Issuer: id.Issuer, Audience: id.Audience,
			Scopes: id.Scopes.List(), Email: id.Email, Token: id.Token(),
		})
	}))
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// gatewayIdentity verifies tok as the MCP gateway does and returns the
// identity that the gateway's handlers get.
func gatewayIdentity(t *testing.T, iss *identitytest.Issuer, tok string) *identity.Identity {
	t.Helper()
	id, err := jwtVerifier(t, iss.URL(), iss.JWKSURL(), mcpAud).Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, tok, id.Token())
	return id
}

func TestForwardThroughIssuer(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	be := newProtectedBackend(t, jwtVerifier(t, iss.URL(), iss.JWKSURL(), crmAudience))
	c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: proxy.Forward(crmAudience)})
	require.NoError(t, err)

	tests := []struct {
		name    string
		aud     []string
		wantErr error
	}{
		{"backend is an audience", []string{mcpAud, crmAudience}, nil},
		{"backend is an audience, with a trailing slash", []string{mcpAud, crmAudience + "/"}, nil},
		{"backend is not an audience", []string{mcpAud}, proxy.ErrAudienceMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := be.calls.Load()
			tok := iss.Mint(t, identitytest.Subject("alice"), identitytest.Audience(tt.aud...), identitytest.Scopes("crm:read"))
			id := gatewayIdentity(t, iss, tok)

			var got seen
			err := c.Do(context.Background(), id, http.MethodGet, "whoami", nil, &got)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), tok)
				require.Equal(t, before, be.calls.Load(), "no request may reach the backend")
				return
			}
			require.NoError(t, err)
			require.Equal(t, "alice", got.Subject)
			require.Equal(t, tok, got.Token, "the backend verified the very same token")
		})
	}
}

func TestExchangeThroughIssuer(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clientID, secret := iss.ClientCredentials()
	be := newProtectedBackend(t, jwtVerifier(t, iss.URL(), iss.JWKSURL(), crmAudience))
	x, err := proxy.NewExchange(proxy.ExchangeConfig{
		TokenURL: iss.TokenURL(), ClientID: clientID, ClientSecret: secret,
		Audience: crmAudience,
	})
	require.NoError(t, err)
	clock := newFakeClock()
	x.SetClock(clock.Now)
	c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: x})
	require.NoError(t, err)
	ctx := context.Background()

	mint := func(sub string) *identity.Identity {
		return gatewayIdentity(t, iss, iss.Mint(t, identitytest.Subject(sub), identitytest.Scopes("crm:read", "notes:read"), identitytest.Claim("email", sub+"@example.com")))
	}
	alice, bob := mint("alice"), mint("bob")
	call := func(id *identity.Identity) seen {
		t.Helper()
		var got seen
		require.NoError(t, c.Do(ctx, id, http.MethodGet, "whoami", nil, &got))
		return got
	}

	// The backend accepts the exchanged token: its audience is the backend.
	first := call(alice)
	require.Equal(t, "alice", first.Subject)
	require.Equal(t, []string{crmAudience}, first.Audience)
	require.Equal(t, []string{"crm:read", "notes:read"}, first.Scopes)
	require.Equal(t, "alice@example.com", first.Email)
	require.NotEqual(t, alice.Token(), first.Token, "the user's own token is not sent")
	require.Equal(t, 1, iss.Exchanges())

	// Cached: no new exchange, the same token.
	again := call(alice)
	require.Equal(t, first.Token, again.Token)
	require.Equal(t, 1, iss.Exchanges())

	// Another user: another exchange, another token, another subject.
	other := call(bob)
	require.Equal(t, "bob", other.Subject)
	require.NotEqual(t, first.Token, other.Token)
	require.Equal(t, 2, iss.Exchanges())

	// Expiry: identitytest's exchanged tokens live 5 minutes; with the
	// default MinTTL of 30s, a new one is fetched after 4m30s.
	clock.Advance(4*time.Minute + 29*time.Second)
	require.Equal(t, first.Token, call(alice).Token)
	require.Equal(t, 2, iss.Exchanges())
	clock.Advance(time.Second)
	renewed := call(alice)
	require.Equal(t, "alice", renewed.Subject)
	require.Equal(t, 3, iss.Exchanges())
}

func TestExchangeThroughIssuerConcurrent(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clientID, secret := iss.ClientCredentials()
	be := newProtectedBackend(t, jwtVerifier(t, iss.URL(), iss.JWKSURL(), crmAudience))
	x, err := proxy.NewExchange(proxy.ExchangeConfig{
		TokenURL: iss.TokenURL(), ClientID: clientID, ClientSecret: secret, Resource: crmAudience,
	})
	require.NoError(t, err)
	c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: x})
	require.NoError(t, err)
	id := gatewayIdentity(t, iss, iss.Mint(t, identitytest.Subject("carol")))

	const n = 20
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make([]error, n)
	subs := make([]string, n)
	for i := range n {
		wg.Go(func() {
			<-start
			var got seen
			errs[i] = c.Do(context.Background(), id, http.MethodGet, "whoami", nil, &got)
			subs[i] = got.Subject
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, "carol", subs[i])
	}
	require.Equal(t, 1, iss.Exchanges())
	require.EqualValues(t, n, be.calls.Load())
}

func TestExchangeThroughIssuerErrors(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(iss *identitytest.Issuer, cfg *proxy.ExchangeConfig, tok string)
		wantStatus int
		wantCode   string
	}{
		{
			name:       "wrong client secret",
			setup:      func(_ *identitytest.Issuer, cfg *proxy.ExchangeConfig, _ string) { cfg.ClientSecret = "wrong" },
			wantStatus: http.StatusUnauthorized, wantCode: "invalid_client",
		},
		{
			name: "token endpoint down",
			setup: func(iss *identitytest.Issuer, _ *proxy.ExchangeConfig, _ string) {
				iss.SetTokenEndpointAvailable(false)
			},
			wantStatus: http.StatusServiceUnavailable, wantCode: "temporarily_unavailable",
		},
		{
			name:       "subject token revoked",
			setup:      func(iss *identitytest.Issuer, _ *proxy.ExchangeConfig, tok string) { iss.Revoke(tok) },
			wantStatus: http.StatusBadRequest, wantCode: "invalid_request",
		},
		{
			name:       "scope the user does not hold",
			setup:      func(_ *identitytest.Issuer, cfg *proxy.ExchangeConfig, _ string) { cfg.Scopes = []string{"admin"} },
			wantStatus: http.StatusBadRequest, wantCode: "invalid_scope",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := identitytest.NewIssuer(t)
			clientID, secret := iss.ClientCredentials()
			be := newProtectedBackend(t, jwtVerifier(t, iss.URL(), iss.JWKSURL(), crmAudience))
			tok := iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read"))
			id := gatewayIdentity(t, iss, tok)
			cfg := proxy.ExchangeConfig{TokenURL: iss.TokenURL(), ClientID: clientID, ClientSecret: secret, Audience: crmAudience}
			tt.setup(iss, &cfg, tok)
			x, err := proxy.NewExchange(cfg)
			require.NoError(t, err)
			c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: x})
			require.NoError(t, err)

			err = c.Do(context.Background(), id, http.MethodGet, "whoami", nil, nil)
			require.ErrorIs(t, err, proxy.ErrExchangeFailed)
			var xe *proxy.ExchangeError
			require.ErrorAs(t, err, &xe)
			require.Equal(t, tt.wantStatus, xe.Status)
			require.Equal(t, tt.wantCode, xe.Code)
			require.NotContains(t, err.Error(), tok)
			require.NotContains(t, fmt.Sprintf("%+v", err), secret)
			require.Zero(t, be.calls.Load())
			require.Zero(t, iss.Exchanges())
		})
	}
}

func TestSignerThroughVerifier(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	tok := iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read", "crm:write"), identitytest.Claim("email", "alice@example.com"))
	id := gatewayIdentity(t, iss, tok)

	tests := []struct {
		alg string
		key crypto.Signer
	}{
		{"RS256", testRSAKey(t)},
		{"PS256", testRSAKey(t)},
		{"ES256", ecKey(t, elliptic.P256())},
		{"ES384", ecKey(t, elliptic.P384())},
		{"ES512", ecKey(t, elliptic.P521())},
		{"EdDSA", edKey(t)},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			s, err := proxy.NewSigner(proxy.SignerConfig{
				Issuer: gatewayIssuer, Audience: crmAudience, Key: tt.key, Algorithm: tt.alg,
				CopyClaims: []string{"email"}, Scopes: []string{"crm:read"},
			})
			require.NoError(t, err)
			jwks := httptest.NewServer(s.JWKSHandler())
			t.Cleanup(jwks.Close)
			be := newProtectedBackend(t, jwtVerifierConfig(t, identity.JWTConfig{
				Issuer:      gatewayIssuer,
				Audiences:   []string{crmAudience},
				JWKSURL:     jwks.URL,
				Algorithms:  []string{tt.alg},
				RequireType: "at+jwt",
			}))
			c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: s})
			require.NoError(t, err)

			var got seen
			require.NoError(t, c.Do(context.Background(), id, http.MethodGet, "whoami", nil, &got))
			require.Equal(t, "alice", got.Subject)
			require.Equal(t, gatewayIssuer, got.Issuer)
			require.Equal(t, []string{crmAudience}, got.Audience)
			require.Equal(t, []string{"crm:read"}, got.Scopes)
			require.Equal(t, "alice@example.com", got.Email)
			require.NotEqual(t, tok, got.Token)

			// The user's own token, sent as is, is refused by this backend:
			// neither its issuer nor its audience is the backend's.
			raw, err := http.NewRequest(http.MethodGet, be.srv.URL+"/whoami", nil)
			require.NoError(t, err)
			raw.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(raw)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		})
	}
}

// A signed token outlives one call and not much more: the backend refuses
// it once its TTL (plus the verifier's 30s leeway) has passed.
func TestSignerTokenExpires(t *testing.T) {
	tests := []struct {
		name       string
		ttl        time.Duration
		backendAt  time.Duration // the backend's clock, ahead of the gateway's
		wantStatus int
	}{
		{"fresh", 0, 0, http.StatusOK},
		{"default TTL, 80s later", 0, 80 * time.Second, http.StatusOK},
		{"default TTL, 2 minutes later", 0, 2 * time.Minute, http.StatusUnauthorized},
		{"5 minute TTL, 2 minutes later", 5 * time.Minute, 2 * time.Minute, http.StatusOK},
		{"5 minute TTL, 6 minutes later", 5 * time.Minute, 6 * time.Minute, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t), TTL: tt.ttl})
			require.NoError(t, err)
			jwks := httptest.NewServer(s.JWKSHandler())
			t.Cleanup(jwks.Close)
			be := newProtectedBackend(t, jwtVerifierConfig(t, identity.JWTConfig{
				Issuer: gatewayIssuer, Audiences: []string{crmAudience}, JWKSURL: jwks.URL, Leeway: 30 * time.Second,
				Now: func() time.Time { return time.Now().Add(tt.backendAt) },
			}))
			c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: s})
			require.NoError(t, err)

			err = c.Do(context.Background(), alice(), http.MethodGet, "whoami", nil, nil)
			if tt.wantStatus == http.StatusOK {
				require.NoError(t, err)
				return
			}
			var pe *proxy.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tt.wantStatus, pe.Status)
		})
	}
}
