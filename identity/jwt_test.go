package identity_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/scopes"
)

func TestJWTVerifierRejects(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	b64 := base64.RawURLEncoding.EncodeToString
	cases := []struct {
		name  string
		cfg   func(*identity.JWTConfig)
		token func() string
		want  error
	}{
		{"alg none", nil, func() string { return iss.Mint(t, identitytest.AlgNone()) }, identity.ErrBadAlgorithm},
		{"alg none in other case", nil, func() string {
			return b64([]byte(`{"alg":"NoNe","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"x"}`)) + "."
		}, identity.ErrBadAlgorithm},
		{"HS256 signed with the RSA public key", nil, func() string { return iss.Mint(t, identitytest.HS256WithPublicKey()) }, identity.ErrBadAlgorithm},
		{"alg outside the allow-list", func(c *identity.JWTConfig) { c.Algorithms = []string{"ES256"} },
			func() string { return iss.Mint(t) }, identity.ErrBadAlgorithm},
		{"key's JWK alg differs from the token's", nil, func() string { return iss.Mint(t, identitytest.SigningAlgorithm("PS256")) }, identity.ErrBadAlgorithm},
		{"header alg differs from the signature's", nil, func() string { return iss.Mint(t, identitytest.Header("alg", "RS512")) }, identity.ErrBadAlgorithm},
		{"wrong issuer", nil, func() string { return iss.Mint(t, identitytest.IssuerClaim("https://evil.example.com")) }, identity.ErrBadIssuer},
		{"issuer with two trailing slashes", nil, func() string { return iss.Mint(t, identitytest.IssuerClaim(iss.URL()+"//")) }, identity.ErrBadIssuer},
		{"issuer differing in case", nil, func() string { return iss.Mint(t, identitytest.IssuerClaim(strings.ToUpper(iss.URL()))) }, identity.ErrBadIssuer},
		{"no issuer", nil, func() string { return iss.Mint(t, identitytest.Without("iss")) }, identity.ErrMissingClaim},
		{"wrong audience", nil, func() string { return iss.Mint(t, identitytest.Audience("https://other.example.com/mcp")) }, identity.ErrBadAudience},
		{"audience prefix", nil, func() string { return iss.Mint(t, identitytest.Audience("https://mcp.example.com")) }, identity.ErrBadAudience},
		{"no audience", nil, func() string { return iss.Mint(t, identitytest.NoAudience()) }, identity.ErrMissingClaim},
		{"empty audience array", nil, func() string { return iss.Mint(t, identitytest.Claim("aud", []string{})) }, identity.ErrMissingClaim},
		{"audience of the wrong type", nil, func() string { return iss.Mint(t, identitytest.Claim("aud", 42)) }, identity.ErrMalformedToken},
		{"expired", nil, func() string { return iss.Mint(t, identitytest.ExpiresIn(-time.Hour)) }, identity.ErrExpired},
		{"expired beyond the leeway", nil, func() string { return iss.Mint(t, identitytest.ExpiresIn(-40*time.Second)) }, identity.ErrExpired},
		{"expired with no leeway", func(c *identity.JWTConfig) { c.Leeway = -1 },
			func() string { return iss.Mint(t, identitytest.ExpiresIn(-2*time.Second)) }, identity.ErrExpired},
		{"not yet valid", nil, func() string { return iss.Mint(t, identitytest.NotBefore(time.Now().Add(time.Hour))) }, identity.ErrNotYetValid},
		{"issued in the future", nil, func() string { return iss.Mint(t, identitytest.IssuedAt(time.Now().Add(time.Hour))) }, identity.ErrNotYetValid},
		{"no exp", nil, func() string { return iss.Mint(t, identitytest.NoExpiry()) }, identity.ErrMissingClaim},
		{"exp of the wrong type", nil, func() string { return iss.Mint(t, identitytest.Claim("exp", "tomorrow")) }, identity.ErrMalformedToken},
		{"no sub", nil, func() string { return iss.Mint(t, identitytest.Without("sub")) }, identity.ErrMissingClaim},
		{"empty sub", nil, func() string { return iss.Mint(t, identitytest.Subject("")) }, identity.ErrMissingClaim},
		{"sub of the wrong type", nil, func() string { return iss.Mint(t, identitytest.Claim("sub", 7)) }, identity.ErrMalformedToken},
		{"unknown kid", nil, func() string { return iss.Mint(t, identitytest.KeyID("no-such-key")) }, identity.ErrUnknownKey},
		{"signed by another key", nil, func() string { return iss.Mint(t, identitytest.ForeignKey()) }, identity.ErrBadSignature},
		{"payload tampered with", nil, func() string { return tamper(iss.Mint(t)) }, identity.ErrBadSignature},
		// Go's base64 decoders skip CR and LF: a line break in the
		// signature would otherwise verify as a second spelling of the
		// token.
		{"LF in the signature", nil, func() string { tok := iss.Mint(t); return tok[:len(tok)-10] + "\n" + tok[len(tok)-10:] }, identity.ErrMalformedToken},
		{"CR in the signature", nil, func() string { tok := iss.Mint(t); return tok[:len(tok)-10] + "\r" + tok[len(tok)-10:] }, identity.ErrMalformedToken},
		{"CRLF after the token", nil, func() string { return iss.Mint(t) + "\r\n" }, identity.ErrMalformedToken},
		{"padding in the signature", nil, func() string { return iss.Mint(t) + "==" }, identity.ErrMalformedToken},
		{"signature stripped", nil, func() string {
			tok := iss.Mint(t)
			return tok[:strings.LastIndex(tok, ".")+1]
		}, identity.ErrBadSignature},
		{"unknown crit", nil, func() string {
			return iss.Mint(t, identitytest.Header("crit", []string{"exp-ext"}), identitytest.Header("exp-ext", true))
		}, identity.ErrUnsupportedHeader},
		{"empty crit", nil, func() string { return iss.Mint(t, identitytest.Header("crit", []string{})) }, identity.ErrUnsupportedHeader},
		{"typ required, JWT sent", func(c *identity.JWTConfig) { c.RequireType = "at+jwt" },
			func() string { return iss.Mint(t) }, identity.ErrBadType},
		{"typ required, none sent", func(c *identity.JWTConfig) { c.RequireType = "at+jwt" },
			func() string { return iss.Mint(t, identitytest.Header("typ", nil)) }, identity.ErrBadType},
		{"scope claim of the wrong type", nil, func() string { return iss.Mint(t, identitytest.ScopeClaim("scope", 3)) }, identity.ErrMalformedToken},
		{"scp array holding a number", nil, func() string { return iss.Mint(t, identitytest.ScopeClaim("scp", []any{"a", 1})) }, identity.ErrMalformedToken},
		// Sender-constrained tokens sent as bearer tokens (RFC 9449 §7.2,
		// RFC 8705 §3).
		{"DPoP-bound (cnf jkt)", nil, func() string {
			return iss.Mint(t, identitytest.Claim("cnf", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}))
		}, identity.ErrBoundToken},
		{"mTLS-bound (cnf x5t#S256)", nil, func() string {
			return iss.Mint(t, identitytest.Claim("cnf", map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}))
		}, identity.ErrBoundToken},
		{"cnf of the wrong type", nil, func() string { return iss.Mint(t, identitytest.Claim("cnf", "x")) }, identity.ErrBoundToken},
		{"JWE (five parts)", nil, func() string {
			return b64([]byte(`{"alg":"RSA-OAEP","enc":"A256GCM"}`)) + ".ZW5jcnlwdGVka2V5.aXY.Y2lwaGVydGV4dA.dGFn"
		}, identity.ErrEncryptedToken},
		{"opaque", nil, func() string { return iss.MintOpaque(t) }, identity.ErrOpaqueToken},
		{"empty", nil, func() string { return "" }, identity.ErrMalformedToken},
		{"two parts", nil, func() string { return "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0" }, identity.ErrMalformedToken},
		{"four parts", nil, func() string { return "a.b.c.d" }, identity.ErrMalformedToken},
		{"garbage", nil, func() string { return "not.a.jwt" }, identity.ErrMalformedToken},
		{"header not JSON", nil, func() string { return b64([]byte("hello")) + ".e30.c2ln" }, identity.ErrMalformedToken},
		{"header without alg", nil, func() string { return b64([]byte(`{"typ":"JWT"}`)) + ".e30.c2ln" }, identity.ErrMalformedToken},
		{"alg not a string", nil, func() string { return b64([]byte(`{"alg":256}`)) + ".e30.c2ln" }, identity.ErrMalformedToken},
		{"padded base64", nil, func() string {
			parts := strings.Split(iss.Mint(t), ".")
			return parts[0] + "." + parts[1] + "==." + parts[2]
		}, identity.ErrMalformedToken},
		{"payload not JSON", nil, func() string {
			parts := strings.Split(iss.Mint(t), ".")
			return parts[0] + "." + b64([]byte("[1,2")) + "." + parts[2]
		}, identity.ErrMalformedToken},
		{"huge", nil, func() string { return "eyJhbGciOiJSUzI1NiJ9." + strings.Repeat("A", 40<<10) + ".sig" }, identity.ErrMalformedToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, iss, tc.cfg)
			tok := tc.token()
			got, err := v.Verify(context.Background(), tok)
			require.Nil(t, got)
			requireVerifyError(t, err, tc.want, tok)
		})
	}
}

func TestJWTVerifierEncryptedTokenMessage(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	_, err := v.Verify(context.Background(), "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y3Q.dGFn")
	require.ErrorIs(t, err, identity.ErrEncryptedToken)
	require.Contains(t, err.Error(), "encrypted token (JWE) not supported")
	require.Contains(t, err.Error(), "signed JWT")
}

func TestJWTVerifierAccepts(t *testing.T) {
	slash := identitytest.NewIssuer(t, identitytest.WithTrailingSlash())
	plain := identitytest.NewIssuer(t)
	cases := []struct {
		name   string
		iss    *identitytest.Issuer
		cfg    func(*identity.JWTConfig)
		opts   []identitytest.TokenOption
		verify func(*testing.T, *identity.Identity)
	}{
		{name: "defaults", iss: plain},
		{name: "issuer configured with a slash, token without", iss: plain,
			cfg: func(c *identity.JWTConfig) { c.Issuer = plain.URL() + "/" }},
		{name: "issuer configured without a slash, token with (Auth0)", iss: slash,
			cfg: func(c *identity.JWTConfig) { c.Issuer = strings.TrimSuffix(slash.URL(), "/") },
			verify: func(t *testing.T, id *identity.Identity) {
				require.Equal(t, slash.URL(), id.Issuer, "Identity.Issuer keeps the token's value")
			}},
		{name: "audience with a trailing slash", iss: plain,
			opts: []identitytest.TokenOption{identitytest.Audience(identitytest.DefaultAudience + "/")}},
		{name: "audience configured with a trailing slash", iss: plain,
			cfg: func(c *identity.JWTConfig) { c.Audiences = []string{identitytest.DefaultAudience + "/"} }},
		{name: "one of several audiences", iss: plain,
			opts: []identitytest.TokenOption{identitytest.Audience("https://a.example.com", identitytest.DefaultAudience)},
			verify: func(t *testing.T, id *identity.Identity) {
				require.Equal(t, []string{"https://a.example.com", identitytest.DefaultAudience}, id.Audience)
			}},
		{name: "second configured audience", iss: plain,
			cfg:  func(c *identity.JWTConfig) { c.Audiences = []string{"https://x.example.com", "https://y.example.com"} },
			opts: []identitytest.TokenOption{identitytest.Audience("https://y.example.com")}},
		{name: "expired within the default leeway", iss: plain,
			opts: []identitytest.TokenOption{identitytest.ExpiresIn(-10 * time.Second)}},
		{name: "expired within a configured leeway", iss: plain,
			cfg:  func(c *identity.JWTConfig) { c.Leeway = 2 * time.Minute },
			opts: []identitytest.TokenOption{identitytest.ExpiresIn(-90 * time.Second)}},
		{name: "nbf within the leeway", iss: plain,
			opts: []identitytest.TokenOption{identitytest.NotBefore(time.Now().Add(10 * time.Second))}},
		{name: "iat within the leeway", iss: plain,
			opts: []identitytest.TokenOption{identitytest.IssuedAt(time.Now().Add(10 * time.Second))}},
		{name: "no exp, insecurely allowed", iss: plain,
			cfg:  func(c *identity.JWTConfig) { c.InsecureAllowMissingExpiry = true },
			opts: []identitytest.TokenOption{identitytest.NoExpiry()},
			verify: func(t *testing.T, id *identity.Identity) {
				require.True(t, id.ExpiresAt.IsZero())
			}},
		{name: "bound token, insecurely accepted", iss: plain,
			cfg:  func(c *identity.JWTConfig) { c.InsecureAcceptBoundTokens = true },
			opts: []identitytest.TokenOption{identitytest.Claim("cnf", map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})},
			verify: func(t *testing.T, id *identity.Identity) {
				require.Contains(t, id.Claims, "cnf")
			}},
		{name: "typ at+jwt required and sent", iss: plain,
			cfg:  func(c *identity.JWTConfig) { c.RequireType = "at+jwt" },
			opts: []identitytest.TokenOption{identitytest.Type("at+jwt")}},
		{name: "typ at+jwt required, sent in upper case", iss: plain,
			cfg:  func(c *identity.JWTConfig) { c.RequireType = "at+jwt" },
			opts: []identitytest.TokenOption{identitytest.Type("AT+JWT")}},
		{name: "typ at+jwt required, sent as a media type", iss: plain,
			cfg:  func(c *identity.JWTConfig) { c.RequireType = "application/at+jwt" },
			opts: []identitytest.TokenOption{identitytest.Type("application/at+jwt")}},
		{name: "typ not required, at+jwt sent", iss: plain,
			opts: []identitytest.TokenOption{identitytest.Type("at+jwt")}},
		{name: "no kid, one key", iss: plain,
			opts: []identitytest.TokenOption{identitytest.Header("kid", nil)}},
		{name: "jku, x5u, jwk and x5c headers are ignored", iss: plain,
			opts: []identitytest.TokenOption{
				identitytest.Header("jku", "https://evil.example.com/jwks"),
				identitytest.Header("x5u", "https://evil.example.com/cert"),
				identitytest.Header("jwk", map[string]any{"kty": "oct", "k": "c2VjcmV0"}),
				identitytest.Header("x5c", []string{"MIIB"}),
			}},
		{name: "null crit", iss: plain,
			opts: []identitytest.TokenOption{identitytest.Header("crit", json0{})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, tc.iss, tc.cfg)
			id, err := v.Verify(context.Background(), tc.iss.Mint(t, tc.opts...))
			require.NoError(t, err)
			require.Equal(t, identitytest.DefaultSubject, id.Subject)
			if tc.verify != nil {
				tc.verify(t, id)
			}
		})
	}
}

// json0 marshals as JSON null, to send a header parameter whose value is
// null.
type json0 struct{}

func (json0) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

func TestJWTVerifierIdentity(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	iat := time.Now().Add(-time.Minute).Truncate(time.Second)
	nbf := iat.Add(-time.Second)
	exp := iat.Add(time.Hour)
	tok := iss.Mint(t,
		identitytest.Subject("alice"),
		identitytest.Scopes("crm:read", "notes"),
		identitytest.ClientID("app-1"),
		identitytest.Claim("azp", "ignored-when-client_id-present"),
		identitytest.Email("alice@example.com"),
		identitytest.Name("Alice"),
		identitytest.IssuedAt(iat),
		identitytest.NotBefore(nbf),
		identitytest.ExpiresAt(exp),
		identitytest.Claim("jti", "token-1"),
		identitytest.Claim("tenant", "t1"),
	)
	id, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, "alice", id.Subject)
	require.Equal(t, "alice", id.UserID)
	require.Equal(t, iss.URL(), id.Issuer)
	require.Equal(t, []string{iss.Audience()}, id.Audience)
	require.True(t, id.Scopes.Equal(scopes.Of("crm:read", "notes")))
	require.Equal(t, "app-1", id.ClientID)
	require.Equal(t, "alice@example.com", id.Email)
	require.Equal(t, "Alice", id.Name)
	require.True(t, iat.Equal(id.IssuedAt))
	require.True(t, nbf.Equal(id.NotBefore))
	require.True(t, exp.Equal(id.ExpiresAt))
	require.Equal(t, "token-1", id.TokenID)
	require.Equal(t, "t1", id.Claims["tenant"])
	require.Equal(t, tok, id.Token())
	require.NotContains(t, fmt.Sprintf("%v %+v %s", id, id, id), tok)

	// azp stands in for a missing client_id.
	id, err = v.Verify(context.Background(), iss.Mint(t, identitytest.Claim("azp", "app-2")))
	require.NoError(t, err)
	require.Equal(t, "app-2", id.ClientID)
	require.True(t, id.NotBefore.IsZero())
}

func TestJWTVerifierScopeClaims(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	cases := []struct {
		name   string
		claims []string // JWTConfig.ScopeClaims
		opts   []identitytest.TokenOption
		want   []string
	}{
		{"scope string", nil, []identitytest.TokenOption{identitytest.Scopes("a", "b")}, []string{"a", "b"}},
		{"scope string with extra spaces", nil, []identitytest.TokenOption{identitytest.ScopeClaim("scope", "  a   b ")}, []string{"a", "b"}},
		{"scp string", nil, []identitytest.TokenOption{identitytest.ScopeClaim("scp", "a b")}, []string{"a", "b"}},
		{"scp array", nil, []identitytest.TokenOption{identitytest.ScopeClaim("scp", []string{"a", "b"})}, []string{"a", "b"}},
		{"permissions array", nil, []identitytest.TokenOption{identitytest.ScopeClaim("permissions", []string{"read:x", "write:x"})}, []string{"read:x", "write:x"}},
		{"union of all three", nil, []identitytest.TokenOption{
			identitytest.Scopes("a"), identitytest.ScopeClaim("scp", []string{"b", "a"}), identitytest.ScopeClaim("permissions", []string{"c"}),
		}, []string{"a", "b", "c"}},
		{"none", nil, nil, nil},
		{"custom claim list", []string{"roles"}, []identitytest.TokenOption{
			identitytest.ScopeClaim("roles", []string{"admin"}), identitytest.Scopes("ignored"),
		}, []string{"admin"}},
		{"custom claim of the wrong type is not read", []string{"roles"}, []identitytest.TokenOption{identitytest.ScopeClaim("scope", 5)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.ScopeClaims = tc.claims })
			id, err := v.Verify(context.Background(), iss.Mint(t, tc.opts...))
			require.NoError(t, err)
			require.Equal(t, scopes.Of(tc.want...).List(), id.Scopes.List())
		})
	}
}

func TestJWTVerifierAlgorithms(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			iss := identitytest.NewIssuer(t, identitytest.WithAlgorithm(alg))
			v := newVerifier(t, iss, nil)
			_, err := v.Verify(context.Background(), iss.Mint(t))
			require.NoError(t, err)
			// Only the key's own algorithm is accepted.
			other := "ES256"
			if strings.HasPrefix(alg, "ES") {
				other = "RS256"
			}
			_, err = v.Verify(context.Background(), iss.Mint(t, identitytest.Header("alg", other)))
			requireVerifyError(t, err, identity.ErrBadAlgorithm, "")
			_, err = v.Verify(context.Background(), iss.Mint(t, identitytest.HS256WithPublicKey()))
			requireVerifyError(t, err, identity.ErrBadAlgorithm, "")
		})
	}
}

// Without "alg" in the JWK (Entra ID), the key type still binds the
// algorithm.
func TestJWTVerifierKeyWithoutAlg(t *testing.T) {
	cases := []struct {
		name    string
		keyAlg  string
		opts    []identitytest.TokenOption
		wantErr error
	}{
		{"RS256 on an RSA key", "RS256", nil, nil},
		{"PS256 on the same RSA key", "RS256", []identitytest.TokenOption{identitytest.SigningAlgorithm("PS256")}, nil},
		{"ES256 header on an RSA key", "RS256", []identitytest.TokenOption{identitytest.Header("alg", "ES256")}, identity.ErrBadAlgorithm},
		{"HS256 with the RSA public key", "RS256", []identitytest.TokenOption{identitytest.HS256WithPublicKey()}, identity.ErrBadAlgorithm},
		{"ES256 on a P-256 key", "ES256", nil, nil},
		{"ES384 header on a P-256 key", "ES256", []identitytest.TokenOption{identitytest.Header("alg", "ES384")}, identity.ErrBadAlgorithm},
		{"EdDSA on an Ed25519 key", "EdDSA", nil, nil},
		{"RS256 header on an Ed25519 key", "EdDSA", []identitytest.TokenOption{identitytest.Header("alg", "RS256")}, identity.ErrBadAlgorithm},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iss := identitytest.NewIssuer(t, identitytest.WithoutKeyAlgorithm(), identitytest.WithAlgorithm(tc.keyAlg))
			v := newVerifier(t, iss, nil)
			tok := iss.Mint(t, tc.opts...)
			_, err := v.Verify(context.Background(), tok)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			requireVerifyError(t, err, tc.wantErr, tok)
		})
	}
}

// A token naming the attacker's JWKS in "jku" (and embedding the
// attacker's key) is judged against the configured JWKS only; the
// attacker's URLs get no request.
func TestJWTVerifierNeverFollowsKeyURLs(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	attacker := identitytest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	tok := attacker.Mint(t,
		identitytest.IssuerClaim(iss.URL()),
		identitytest.Header("jku", attacker.JWKSURL()),
		identitytest.Header("x5u", attacker.URL()+"/cert.pem"),
		identitytest.Header("jwk", map[string]any{"kty": "RSA", "kid": attacker.KeyID()}),
	)
	_, err := v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrUnknownKey, tok)
	require.Zero(t, attacker.JWKSFetches())
	require.Zero(t, attacker.Requests("/jwks"))
	require.Zero(t, attacker.Requests("/cert.pem"))

	// Even with the kid of a legitimate key, the attacker's signature fails.
	tok = attacker.Mint(t, identitytest.IssuerClaim(iss.URL()), identitytest.KeyID(iss.KeyID()),
		identitytest.Header("jku", attacker.JWKSURL()))
	_, err = v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrBadSignature, tok)
	require.Zero(t, attacker.Requests("/jwks"))
}

func TestJWTVerifierUserIDHook(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	errNoUser := errors.New("no such user")
	cases := []struct {
		name    string
		hook    func(*identity.Identity) (string, error)
		wantID  string
		wantErr error
	}{
		{"mapped", func(id *identity.Identity) (string, error) { return "u:" + id.Subject, nil }, "u:" + identitytest.DefaultSubject, nil},
		{"refused", func(*identity.Identity) (string, error) { return "", errNoUser }, "", identity.ErrInactive},
		{"empty id", func(*identity.Identity) (string, error) { return "", nil }, "", identity.ErrInactive},
		{"lookup failed", func(*identity.Identity) (string, error) {
			return "", fmt.Errorf("user db: %w", identity.ErrVerifierUnavailable)
		}, "", identity.ErrVerifierUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.UserID = tc.hook })
			tok := iss.Mint(t)
			id, err := v.Verify(context.Background(), tok)
			if tc.wantErr != nil {
				requireVerifyError(t, err, tc.wantErr, tok)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantID, id.UserID)
			require.Equal(t, identitytest.DefaultSubject, id.Subject)
		})
	}
	// The refusal keeps the hook's error for errors.Is.
	v := newVerifier(t, iss, func(c *identity.JWTConfig) {
		c.UserID = func(*identity.Identity) (string, error) { return "", errNoUser }
	})
	_, err := v.Verify(context.Background(), iss.Mint(t))
	require.ErrorIs(t, err, errNoUser)
}

func TestNewJWTVerifierConfigErrors(t *testing.T) {
	valid := identity.JWTConfig{Issuer: "https://issuer.example.com/", Audiences: []string{"https://api.example.com"}, JWKSURL: "http://127.0.0.1:1/jwks"}
	cases := []struct {
		name string
		mod  func(*identity.JWTConfig)
		want string
	}{
		{"no issuer", func(c *identity.JWTConfig) { c.Issuer = "" }, "Issuer is required"},
		{"issuer not a URL, no JWKS URL", func(c *identity.JWTConfig) { c.Issuer, c.JWKSURL = "issuer", "" }, "or set JWTConfig.JWKSURL"},
		{"JWKS URL not absolute", func(c *identity.JWTConfig) { c.JWKSURL = "/jwks" }, "JWKSURL"},
		{"JWKS URL not http", func(c *identity.JWTConfig) { c.JWKSURL = "file:///etc/jwks" }, "JWKSURL"},
		{"JWKS URL plain http", func(c *identity.JWTConfig) { c.JWKSURL = "http://issuer.example.com/jwks" }, "must use https"},
		{"issuer plain http, keys discovered", func(c *identity.JWTConfig) { c.Issuer, c.JWKSURL = "http://issuer.example.com", "" }, "must use https"},
		{"no audiences", func(c *identity.JWTConfig) { c.Audiences = nil }, "Audiences is required"},
		{"empty audience", func(c *identity.JWTConfig) { c.Audiences = []string{""} }, "empty audience"},
		{"HS256", func(c *identity.JWTConfig) { c.Algorithms = []string{"RS256", "HS256"} }, "HS256 is symmetric"},
		{"none", func(c *identity.JWTConfig) { c.Algorithms = []string{"none"} }, `"none" is not supported`},
		{"unknown algorithm", func(c *identity.JWTConfig) { c.Algorithms = []string{"RS1"} }, `"RS1" is not supported`},
		{"leeway too long", func(c *identity.JWTConfig) { c.Leeway = 6 * time.Minute }, "Leeway"},
		{"negative timeout", func(c *identity.JWTConfig) { c.FetchTimeout = -time.Second }, "must not be negative"},
		{"negative size", func(c *identity.JWTConfig) { c.MaxResponseBytes = -1 }, "must not be negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.mod(&cfg)
			v, err := identity.NewJWTVerifier(context.Background(), cfg)
			require.ErrorContains(t, err, tc.want)
			require.Nil(t, v)
		})
	}
	// The valid configuration itself is accepted even though its JWKS URL
	// is unreachable: the issuer being down is not a configuration error.
	v, err := identity.NewJWTVerifier(context.Background(), valid)
	require.NoError(t, err)
	v.Close()
	// Plain http from a host that is not loopback, when insecurely
	// allowed; and an http issuer only compared, its keys at an https URL.
	for _, mod := range []func(*identity.JWTConfig){
		func(c *identity.JWTConfig) { c.JWKSURL, c.InsecureAllowHTTP = "http://issuer.internal/jwks", true },
		func(c *identity.JWTConfig) {
			c.Issuer, c.JWKSURL = "http://issuer.example.com", "https://issuer.example.com/jwks"
		},
	} {
		cfg := valid
		mod(&cfg)
		v, err := identity.NewJWTVerifier(context.Background(), cfg)
		require.NoError(t, err)
		v.Close()
	}
}

func TestJWTVerifierConcurrent(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.CacheSize = 8 })
	tokens := make([]string, 20)
	for i := range tokens {
		tokens[i] = iss.Mint(t, identitytest.Subject(fmt.Sprint("user-", i)))
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				n := (g*7 + i) % len(tokens)
				id, err := v.Verify(context.Background(), tokens[n])
				if err != nil || id.Subject != fmt.Sprint("user-", n) {
					t.Errorf("token %d: %v %v", n, id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
