package proxy_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
	"github.com/idgate/idgate/scopes"
)

const (
	gatewayIssuer = "https://gateway.example.com"
	crmAudience   = "https://crm.example.com/api"
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey returns one RSA-2048 key shared by the tests (generating one
// is slow).
func testRSAKey(testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
	})
	return rsaKey
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	require.NoError(t, err)
	return k
}

func edKey(t testing.TB) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return k
}

// opaqueSigner hides the concrete key type, as a KMS or HSM signer does.
type opaqueSigner struct{ crypto.Signer }

// signedBy starts a JWKS server for s and a backend that verifies the bearer
// token with golang-jwt against it (an implementation independent of this
// package), answering the verified header and claims as JSON.
func signedBy(t *testing.T, s *proxy.Signer, alg string) *httptest.Server {
	t.Helper()
	jwks := httptest.NewServer(s.JWKSHandler())
	t.Cleanup(jwks.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{jwks.URL})
	require.NoError(t, err)

	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok, err := jwt.Parse(raw, kf.Keyfunc,
			jwt.WithValidMethods([]string{alg}),
			jwt.WithIssuer(gatewayIssuer),
			jwt.WithAudience(crmAudience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt())
		if err != nil {
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"header": tok.Header, "claims": tok.Claims})
	}))
	t.Cleanup(be.Close)
	return be
}

type verified struct {
	Header map[string]any `json:"header"`
	Claims map[string]any `json:"claims"`
}

func alice() *identity.Identity {
	return identity.Identity{
		Subject:  "auth0|alice",
		Audience: []string{"https://mcp.example.com/mcp"},
		Scopes:   scopes.Of("crm:read", "crm:write", "notes:read"),
		ClientID: "claude",
		Email:    "alice@example.com",
		Claims: map[string]any{
			"sub": "auth0|alice", "name": "Alice", "email": "alice@example.com",
			"org": map[string]any{"id": "acme"},
		},
	}.WithToken(userToken)
}

func TestSignerAlgorithms(t *testing.T) {
	tests := []struct {
		name    string
		key     crypto.Signer
		alg     string // SignerConfig.Algorithm
		wantAlg string
	}{
		{"RSA default", testRSAKey(t), "", "RS256"},
		{"RSA PS256", testRSAKey(t), "PS256", "PS256"},
		{"RSA RS512", testRSAKey(t), "RS512", "RS512"},
		{"P-256", ecKey(t, elliptic.P256()), "", "ES256"},
		{"P-384", ecKey(t, elliptic.P384()), "ES384", "ES384"},
		{"P-521", ecKey(t, elliptic.P521()), "", "ES512"},
		{"Ed25519", edKey(t), "", "EdDSA"},
		{"opaque crypto.Signer over P-256", opaqueSigner{ecKey(t, elliptic.P256())}, "", "ES256"},
		{"opaque crypto.Signer over RSA", opaqueSigner{testRSAKey(t)}, "", "RS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := proxy.NewSigner(proxy.SignerConfig{
				Issuer:     gatewayIssuer,
				Audience:   crmAudience,
				Key:        tt.key,
				Algorithm:  tt.alg,
				CopyClaims: []string{"email", "name", "org", "absent"},
			})
			require.NoError(t, err)
			be := signedBy(t, s, tt.wantAlg)
			c, err := proxy.New(proxy.Config{BaseURL: be.URL, Credential: s})
			require.NoError(t, err)

			var got verified
			require.NoError(t, c.Do(context.Background(), alice(), http.MethodGet, "whoami", nil, &got))

			var jwks struct {
				Keys []map[string]any `json:"keys"`
			}
			require.NoError(t, json.Unmarshal(s.JWKS(), &jwks))
			require.Len(t, jwks.Keys, 1)
			require.Equal(t, map[string]any{"alg": tt.wantAlg, "typ": "at+jwt", "kid": jwks.Keys[0]["kid"]}, got.Header)

			cl := got.Claims
			require.Equal(t, gatewayIssuer, cl["iss"])
			require.Equal(t, crmAudience, cl["aud"])
			require.Equal(t, "auth0|alice", cl["sub"])
			require.Equal(t, "crm:read crm:write notes:read", cl["scope"])
			require.Equal(t, "claude", cl["client_id"])
			require.Equal(t, "alice@example.com", cl["email"])
			require.Equal(t, "Alice", cl["name"])
			require.Equal(t, map[string]any{"id": "acme"}, cl["org"])
			require.NotContains(t, cl, "absent")
			require.Len(t, cl["jti"], 26)
			require.Equal(t, 60.0, cl["exp"].(float64)-cl["iat"].(float64), "default TTL is 60s")
			require.InDelta(t, float64(time.Now().Unix()), cl["iat"], 5)
			require.Len(t, cl, 11)
		})
	}
}

func TestSignerClaims(t *testing.T) {
	tests := []struct {
		name      string
		cfg       func(*proxy.SignerConfig)
		id        *identity.Identity
		wantScope any // nil: no "scope" claim
		wantTTL   float64
		wantClaim map[string]any // further claims that must be present
		absent    []string
	}{
		{
			name:      "scopes limited",
			cfg:       func(c *proxy.SignerConfig) { c.Scopes = []string{"crm:read", "admin"} },
			id:        alice(),
			wantScope: "crm:read", wantTTL: 60,
		},
		{
			name:    "scopes limited to none the user has",
			cfg:     func(c *proxy.SignerConfig) { c.Scopes = []string{"admin"} },
			id:      alice(),
			wantTTL: 60, absent: []string{"scope"},
		},
		{
			name:      "longer TTL",
			cfg:       func(c *proxy.SignerConfig) { c.TTL = 5 * time.Minute },
			id:        alice(),
			wantScope: "crm:read crm:write notes:read", wantTTL: 300,
		},
		{
			name:      "no claims map: email and name from the fields",
			cfg:       func(c *proxy.SignerConfig) { c.CopyClaims = []string{"email", "name"} },
			id:        identity.Identity{Subject: "bob", Email: "bob@example.com", Name: "Bob"}.WithToken(userToken),
			wantTTL:   60,
			wantClaim: map[string]any{"email": "bob@example.com", "name": "Bob"},
			absent:    []string{"scope", "client_id"},
		},
		{
			name:    "identity without a token still gets a signed one",
			cfg:     func(*proxy.SignerConfig) {},
			id:      &identity.Identity{Subject: "bob"},
			wantTTL: 60, absent: []string{"scope", "client_id", "email"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t)}
			tt.cfg(&cfg)
			s, err := proxy.NewSigner(cfg)
			require.NoError(t, err)
			be := signedBy(t, s, "EdDSA")
			c, err := proxy.New(proxy.Config{BaseURL: be.URL, Credential: s})
			require.NoError(t, err)

			var got verified
			require.NoError(t, c.Do(context.Background(), tt.id, http.MethodGet, "whoami", nil, &got))
			cl := got.Claims
			require.Equal(t, tt.id.Subject, cl["sub"])
			require.Equal(t, tt.wantScope, cl["scope"])
			require.Equal(t, tt.wantTTL, cl["exp"].(float64)-cl["iat"].(float64))
			for k, v := range tt.wantClaim {
				require.Equal(t, v, cl[k], k)
			}
			for _, k := range tt.absent {
				require.NotContains(t, cl, k)
			}
		})
	}
}

func TestSignerTokensAreFresh(t *testing.T) {
	s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t)})
	require.NoError(t, err)
	a, err := s.Token(context.Background(), alice())
	require.NoError(t, err)
	b, err := s.Token(context.Background(), alice())
	require.NoError(t, err)
	require.NotEqual(t, a, b, "each call mints a token with its own jti")
	require.NotContains(t, a, userToken)
}

func TestSignerRefuses(t *testing.T) {
	s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t)})
	require.NoError(t, err)
	be := newBackend(t, nil)
	c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: s})
	require.NoError(t, err)

	err = c.Do(context.Background(), nil, http.MethodGet, "x", nil, nil)
	require.ErrorIs(t, err, proxy.ErrNoIdentity)
	err = c.Do(context.Background(), identity.Identity{}.WithToken(userToken), http.MethodGet, "x", nil, nil)
	require.ErrorIs(t, err, proxy.ErrSignFailed)
	require.Zero(t, be.calls.Load())
}

func TestNewSignerConfig(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	tests := []struct {
		name    string
		mod     func(*proxy.SignerConfig)
		wantErr string
	}{
		{"valid", func(*proxy.SignerConfig) {}, ""},
		{"ten minutes", func(c *proxy.SignerConfig) { c.TTL = 10 * time.Minute }, ""},
		{"key id", func(c *proxy.SignerConfig) { c.KeyID = "gw-2026" }, ""},
		{"no issuer", func(c *proxy.SignerConfig) { c.Issuer = "" }, "Issuer is required"},
		{"no audience", func(c *proxy.SignerConfig) { c.Audience = "" }, "Audience is required"},
		{"no key", func(c *proxy.SignerConfig) { c.Key = nil }, "Key is required"},
		{"typed nil key", func(c *proxy.SignerConfig) { c.Key = (*ecdsa.PrivateKey)(nil) }, "Key is required"},
		{"ttl too long", func(c *proxy.SignerConfig) { c.TTL = 11 * time.Minute }, "must be between 1s and 10m0s"},
		{"ttl too short", func(c *proxy.SignerConfig) { c.TTL = 500 * time.Millisecond }, "must be between 1s and 10m0s"},
		{"negative ttl", func(c *proxy.SignerConfig) { c.TTL = -time.Second }, "must be between 1s and 10m0s"},
		{"small RSA key", func(c *proxy.SignerConfig) { c.Key = small }, "1024 bits, want at least 2048"},
		{"algorithm does not fit", func(c *proxy.SignerConfig) { c.Algorithm = "ES256" }, `algorithm "ES256" does not fit`},
		{"HS256 refused", func(c *proxy.SignerConfig) { c.Key = testRSAKey(t); c.Algorithm = "HS256" }, `algorithm "HS256" does not fit`},
		{"wrong curve algorithm", func(c *proxy.SignerConfig) { c.Key = ecKey(t, elliptic.P256()); c.Algorithm = "ES384" }, `algorithm "ES384" does not fit`},
		{"copy sub", func(c *proxy.SignerConfig) { c.CopyClaims = []string{"sub"} }, `cannot copy "sub"`},
		{"copy scp", func(c *proxy.SignerConfig) { c.CopyClaims = []string{"scp"} }, `cannot copy "scp"`},
		// An empty entry would have left no filter: all the user's scopes.
		{"empty scope", func(c *proxy.SignerConfig) { c.Scopes = []string{""} }, `invalid scope ""`},
		{"scope with a space", func(c *proxy.SignerConfig) { c.Scopes = []string{"crm:read crm:admin"} }, "invalid scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: edKey(t)}
			tt.mod(&cfg)
			s, err := proxy.NewSigner(cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, s)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestSignerJWKS(t *testing.T) {
	ec := ecKey(t, elliptic.P256())
	tests := []struct {
		name    string
		key     crypto.Signer
		keyID   string
		wantKey map[string]any // members besides x, y, n, e
	}{
		{"RSA", testRSAKey(t), "rsa-1", map[string]any{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "rsa-1"}},
		{"P-256", ec, "ec-1", map[string]any{"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "ec-1"}},
		{"Ed25519", edKey(t), "ed-1", map[string]any{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": "ed-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: tt.key, KeyID: tt.keyID})
			require.NoError(t, err)
			srv := httptest.NewServer(s.JWKSHandler())
			t.Cleanup(srv.Close)

			resp, err := http.Get(srv.URL)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			require.Equal(t, s.JWKS(), body)
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			require.NoError(t, json.Unmarshal(body, &set))
			require.Len(t, set.Keys, 1)
			for k, v := range tt.wantKey {
				require.Equal(t, v, set.Keys[0][k], k)
			}
			require.NotContains(t, set.Keys[0], "d", "no private member")

			resp, err = http.Head(srv.URL)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)

			resp, err = http.Post(srv.URL, "application/json", nil)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
			require.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
		})
	}
}

// The default key id is the RFC 7638 thumbprint; RFC 7638 §3.1 gives this
// RSA key's.
func TestSignerDefaultKeyIDIsThumbprint(t *testing.T) {
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	nb, err := base64.RawURLEncoding.DecodeString(n)
	require.NoError(t, err)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537}
	s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: publicOnly{pub}})
	require.NoError(t, err)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	require.NoError(t, json.Unmarshal(s.JWKS(), &set))
	require.Equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", set.Keys[0]["kid"])
}

// publicOnly is a crypto.Signer that knows only its public key.
type publicOnly struct{ pub crypto.PublicKey }

func (p publicOnly) Public() crypto.PublicKey { return p.pub }

func (publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("this key cannot sign")
}

func TestSignerKeyFailure(t *testing.T) {
	s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: publicOnly{testRSAKey(t).Public()}})
	require.NoError(t, err)
	_, err = s.Token(context.Background(), alice())
	require.ErrorIs(t, err, proxy.ErrSignFailed)
	require.ErrorContains(t, err, "this key cannot sign")
}
