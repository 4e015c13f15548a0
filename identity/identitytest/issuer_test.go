package identitytest_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
)

// getJSON fetches u and decodes its JSON body, returning the status.
func getJSON(t *testing.T, u string, into any) int {
	t.Helper()
	resp, err := http.Get(u)

	require.NoError(t, err)
	defer resp.Body.Close()
	if into != nil && resp.StatusCode == http.StatusOK {
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		require.NoError(t, json.NewDecoder(resp.Body).Decode(into))
	}
	return resp.StatusCode
}

// postForm posts form to u, with the issuer's client credentials unless
// noAuth, and decodes the JSON answer.
func postForm(t *testing.T, iss *identitytest.Issuer, u string, form url.Values, noAuth bool) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if !noAuth {
		req.SetBasicAuth(iss.ClientCredentials())
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

// parse verifies tok with the issuer's published key named by its kid.
func parse(t *testing.T, iss *identitytest.Issuer, tok string) (*jwt.Token, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) {
		return iss.PublicKey(tk.Header["kid"].(string)), nil
	})
	require.NoError(t, err)
	return parsed, claims
}

func TestDiscovery(t *testing.T) {
	cases := []struct {
		name       string
		opts       []identitytest.IssuerOption
		wantSuffix string // of URL(), after the server's origin
		oidc, rfc  int    // statuses of the two documents
	}{
		{"root", nil, "", 200, 200},
		{"trailing slash", []identitytest.IssuerOption{identitytest.WithTrailingSlash()}, "/", 200, 200},
		{"path", []identitytest.IssuerOption{identitytest.WithIssuerPath("tenant/")}, "/tenant", 200, 200},
		{"path and slash", []identitytest.IssuerOption{identitytest.WithIssuerPath("/tenant"), identitytest.WithTrailingSlash()}, "/tenant/", 200, 200},
		{"no openid", []identitytest.IssuerOption{identitytest.WithoutOpenIDConfiguration()}, "", 404, 200},
		{"no rfc 8414", []identitytest.IssuerOption{identitytest.WithoutAuthorizationServerMetadata()}, "", 200, 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iss := identitytest.NewIssuer(t, tc.opts...)
			u, err := url.Parse(iss.URL())
			require.NoError(t, err)
			require.Equal(t, "http://"+u.Host+tc.wantSuffix, iss.URL())

			for u, want := range map[string]int{iss.OpenIDConfigurationURL(): tc.oidc, iss.AuthorizationServerMetadataURL(): tc.rfc} {
				var md map[string]any
				require.Equal(t, want, getJSON(t, u, &md), u)
				if want != http.StatusOK {
					continue
				}
				require.Equal(t, iss.URL(), md["issuer"])
				require.Equal(t, iss.JWKSURL(), md["jwks_uri"])
				require.Equal(t, iss.TokenURL(), md["token_endpoint"])
				require.Equal(t, iss.IntrospectionURL(), md["introspection_endpoint"])
				require.Equal(t, []any{"urn:ietf:params:oauth:grant-type:token-exchange"}, md["grant_types_supported"])
			}
		})
	}
}

func TestDiscoveryPathInserted(t *testing.T) {
	iss := identitytest.NewIssuer(t, identitytest.WithIssuerPath("/tenant"))
	origin := strings.TrimSuffix(iss.URL(), "/tenant")
	require.Equal(t, origin+"/.well-known/oauth-authorization-server/tenant", iss.AuthorizationServerMetadataURL())
	require.Equal(t, origin+"/tenant/.well-known/openid-configuration", iss.OpenIDConfigurationURL())
	require.Equal(t, http.StatusOK, getJSON(t, origin+"/.well-known/openid-configuration/tenant", nil))
	// RFC 8414 has no appended form: a client that uses it is wrong.
	require.Equal(t, http.StatusNotFound, getJSON(t, iss.URL()+"/.well-known/oauth-authorization-server", nil))
	require.Equal(t, 1, iss.Requests("/tenant/.well-known/oauth-authorization-server"))
}

func TestJWKSRotationAndOutage(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	type jwks struct {
		Keys []struct {
			Kid, Alg, Kty, Use, Crv string
		}
	}
	var set jwks
	require.Equal(t, http.StatusOK, getJSON(t, iss.JWKSURL(), &set))
	require.Len(t, set.Keys, 1)
	first := iss.KeyID()
	require.Equal(t, first, set.Keys[0].Kid)
	require.Equal(t, "RS256", set.Keys[0].Alg)
	require.Equal(t, "RSA", set.Keys[0].Kty)
	require.Equal(t, "sig", set.Keys[0].Use)

	second := iss.Rotate(t, "ES256")
	require.Equal(t, second, iss.KeyID())
	set = jwks{}
	require.Equal(t, http.StatusOK, getJSON(t, iss.JWKSURL(), &set))
	require.Len(t, set.Keys, 2)
	require.Equal(t, "EC", set.Keys[1].Kty)
	require.Equal(t, "P-256", set.Keys[1].Crv)

	// Tokens name the current key; KeyID selects an older one.
	tok, _ := parse(t, iss, iss.Mint(t))
	require.Equal(t, second, tok.Header["kid"])
	require.Equal(t, "ES256", tok.Method.Alg())
	tok, _ = parse(t, iss, iss.Mint(t, identitytest.KeyID(first)))
	require.Equal(t, "RS256", tok.Method.Alg())

	iss.RemoveKey(first)
	set = jwks{}
	require.Equal(t, http.StatusOK, getJSON(t, iss.JWKSURL(), &set))
	require.Len(t, set.Keys, 1)
	require.Equal(t, second, set.Keys[0].Kid)

	iss.SetJWKSAvailable(false)
	require.Equal(t, http.StatusServiceUnavailable, getJSON(t, iss.JWKSURL(), nil))
	iss.SetJWKSAvailable(true)
	require.Equal(t, 4, iss.JWKSFetches())
	require.Equal(t, 4, iss.Requests("/jwks"))

	_, err := iss.RotateKey("HS256")
	require.ErrorContains(t, err, "unsupported signing algorithm")
}

func TestWithoutKeyAlgorithm(t *testing.T) {
	iss := identitytest.NewIssuer(t, identitytest.WithoutKeyAlgorithm(), identitytest.WithAlgorithm("EdDSA"))
	var set struct{ Keys []map[string]any }
	require.Equal(t, http.StatusOK, getJSON(t, iss.JWKSURL(), &set))
	require.Len(t, set.Keys, 1)
	require.NotContains(t, set.Keys[0], "alg")
	require.Equal(t, "OKP", set.Keys[0]["kty"])
}

func TestStartIssuerRejectsBadOptions(t *testing.T) {
	for name, opt := range map[string]identitytest.IssuerOption{
		"symmetric algorithm": identitytest.WithAlgorithm("HS256"),
		"empty secret":        identitytest.WithClientCredentials("c", ""),
		"zero exchange ttl":   identitytest.WithExchangeLifetime(0),
	} {
		t.Run(name, func(t *testing.T) {
			iss, err := identitytest.StartIssuer(opt)
			require.Error(t, err)
			require.Nil(t, iss)
		})
	}
}

func TestMintDefaults(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	before := time.Now().Unix()
	tok, claims := parse(t, iss, iss.Mint(t))
	require.Equal(t, "JWT", tok.Header["typ"])
	require.Equal(t, iss.KeyID(), tok.Header["kid"])
	require.Equal(t, "RS256", tok.Header["alg"])
	require.Equal(t, iss.URL(), claims["iss"])
	require.Equal(t, identitytest.DefaultSubject, claims["sub"])
	require.Equal(t, identitytest.DefaultAudience, claims["aud"])
	require.Equal(t, iss.Audience(), claims["aud"])
	require.InDelta(t, before, claims["iat"], 2)
	require.InDelta(t, before+3600, claims["exp"], 2)
	require.NotEmpty(t, claims["jti"])
	require.NotContains(t, claims, "scope")
}

func TestMintOptions(t *testing.T) {
	iss := identitytest.NewIssuer(t, identitytest.WithAudience("https://api.example.com"))
	at := time.Unix(2_000_000_000, 0)
	cases := []struct {
		name   string
		opt    identitytest.TokenOption
		claim  string
		want   any // nil: claim absent
		header bool
	}{
		{"subject", identitytest.Subject("alice"), "sub", "alice", false},
		{"scopes", identitytest.Scopes("a", "b:c"), "scope", "a b:c", false},
		{"scp array", identitytest.ScopeClaim("scp", []string{"x", "y"}), "scp", []any{"x", "y"}, false},
		{"one audience", identitytest.Audience("https://a"), "aud", "https://a", false},
		{"audiences", identitytest.Audience("https://a", "https://b"), "aud", []any{"https://a", "https://b"}, false},
		{"no audience", identitytest.NoAudience(), "aud", nil, false},
		{"expires at", identitytest.ExpiresAt(at), "exp", float64(at.Unix()), false},
		{"no expiry", identitytest.NoExpiry(), "exp", nil, false},
		{"not before", identitytest.NotBefore(at), "nbf", float64(at.Unix()), false},
		{"issued at", identitytest.IssuedAt(at), "iat", float64(at.Unix()), false},
		{"issuer", identitytest.IssuerClaim("https://other"), "iss", "https://other", false},
		{"client id", identitytest.ClientID("app"), "client_id", "app", false},
		{"email", identitytest.Email("a@example.com"), "email", "a@example.com", false},
		{"name", identitytest.Name("Alice"), "name", "Alice", false},
		{"claim", identitytest.Claim("tenant", "t1"), "tenant", "t1", false},
		{"without", identitytest.Without("jti"), "jti", nil, false},
		{"type", identitytest.Type("at+jwt"), "typ", "at+jwt", true},
		{"jku", identitytest.Header("jku", "https://evil/jwks"), "jku", "https://evil/jwks", true},
		{"no kid", identitytest.Header("kid", nil), "kid", nil, true},
		{"unknown kid", identitytest.KeyID("nope"), "kid", "nope", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := iss.Mint(t, tc.opt)
			claims := jwt.MapClaims{}
			tok, _, err := jwt.NewParser().ParseUnverified(raw, claims)
			require.NoError(t, err)
			got := map[string]any(claims)
			if tc.header {
				got = tok.Header
			}
			if tc.want == nil {
				require.NotContains(t, got, tc.claim)
				return
			}
			require.Equal(t, tc.want, got[tc.claim])
		})
	}
	// The audience option of the issuer is the default "aud".
	_, claims := parse(t, iss, iss.Mint(t))
	require.Equal(t, "https://api.example.com", claims["aud"])
}

func TestMintAlgorithms(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			iss := identitytest.NewIssuer(t, identitytest.WithAlgorithm(alg))
			tok, _ := parse(t, iss, iss.Mint(t))
			require.Equal(t, alg, tok.Method.Alg())
		})
	}
}

func TestForgeries(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	pub := iss.PublicKey(iss.KeyID())
	require.NotNil(t, pub)
	require.Nil(t, iss.PublicKey("nope"))

	t.Run("alg none", func(t *testing.T) {
		raw := iss.Mint(t, identitytest.AlgNone())
		require.True(t, strings.HasSuffix(raw, "."))
		tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
		require.NoError(t, err)
		require.Equal(t, "none", tok.Header["alg"])
	})
	t.Run("hs256 with public key", func(t *testing.T) {
		raw := iss.Mint(t, identitytest.HS256WithPublicKey())
		tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
		require.NoError(t, err)
		require.Equal(t, "HS256", tok.Header["alg"])
		// The HMAC secret is the PEM of the published key: recompute it.
		parts := strings.Split(raw, ".")
		pemKey := mustPEM(t, iss)
		mac := hmac.New(sha256.New, pemKey)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		require.Equal(t, base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), parts[2])
	})
	t.Run("foreign key", func(t *testing.T) {
		raw := iss.Mint(t, identitytest.ForeignKey())
		_, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return pub, nil })
		require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
	})
	t.Run("signing algorithm", func(t *testing.T) {
		raw := iss.Mint(t, identitytest.SigningAlgorithm("PS256"))
		tok, err := jwt.Parse(raw, func(*jwt.Token) (any, error) { return pub, nil })
		require.NoError(t, err)
		require.Equal(t, "PS256", tok.Method.Alg())
	})
	t.Run("signing algorithm unfit for key", func(t *testing.T) {
		_, err := iss.MintToken(identitytest.SigningAlgorithm("ES256"))
		require.Error(t, err)
		_, err = iss.MintToken(identitytest.SigningAlgorithm("XX1"))
		require.ErrorContains(t, err, "unknown signing algorithm")
	})
}

// mustPEM recomputes the PEM the HS256 forgery uses as its secret.
func mustPEM(t *testing.T, iss *identitytest.Issuer) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(iss.PublicKey(iss.KeyID()))
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestIntrospection(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	opaque := iss.MintOpaque(t, identitytest.Subject("alice"), identitytest.Scopes("a", "b"), identitytest.ClientID("app"))
	require.NotContains(t, opaque, ".")
	revokedOpaque := iss.MintOpaque(t)
	iss.Revoke(revokedOpaque)
	expiredOpaque := iss.MintOpaque(t, identitytest.ExpiresIn(-time.Minute))
	futureOpaque := iss.MintOpaque(t, identitytest.NotBefore(time.Now().Add(time.Hour)))
	jwtTok := iss.Mint(t, identitytest.Subject("bob"))
	expiredJWT := iss.Mint(t, identitytest.ExpiresIn(-time.Minute))
	revokedJWT := iss.Mint(t)
	iss.Revoke(revokedJWT)
	foreignJWT := iss.Mint(t, identitytest.ForeignKey())

	cases := []struct {
		name       string
		token      string
		noAuth     bool
		wantStatus int
		wantActive bool
		wantSub    string
		wantError  string
	}{
		{"opaque", opaque, false, 200, true, "alice", ""},
		{"jwt", jwtTok, false, 200, true, "bob", ""},
		{"unknown", "nope", false, 200, false, "", ""},
		{"revoked opaque", revokedOpaque, false, 200, false, "", ""},
		{"expired opaque", expiredOpaque, false, 200, false, "", ""},
		{"not yet valid opaque", futureOpaque, false, 200, false, "", ""},
		{"expired jwt", expiredJWT, false, 200, false, "", ""},
		{"revoked jwt", revokedJWT, false, 200, false, "", ""},
		{"forged jwt", foreignJWT, false, 200, false, "", ""},
		{"no client auth", opaque, true, 401, false, "", "invalid_client"},
		{"no token", "", false, 400, false, "", "invalid_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postForm(t, iss, iss.IntrospectionURL(), url.Values{"token": {tc.token}}, tc.noAuth)
			require.Equal(t, tc.wantStatus, status)
			if tc.wantError != "" {
				require.Equal(t, tc.wantError, body["error"])
				return
			}
			require.Equal(t, tc.wantActive, body["active"])
			if !tc.wantActive {
				require.Len(t, body, 1, "an inactive answer says nothing else")
				return
			}
			require.Equal(t, tc.wantSub, body["sub"])
			require.Equal(t, tc.wantSub, body["username"])
			require.Equal(t, iss.URL(), body["iss"])
			require.Equal(t, iss.Audience(), body["aud"])
			require.NotNil(t, body["exp"])
			require.NotNil(t, body["iat"])
		})
	}
	_, body := postForm(t, iss, iss.IntrospectionURL(), url.Values{"token": {opaque}}, false)
	require.Equal(t, "a b", body["scope"])
	require.Equal(t, "app", body["client_id"])
	require.Equal(t, len(cases)-2+1, iss.Introspections())

	iss.SetIntrospectionAvailable(false)
	status, _ := postForm(t, iss, iss.IntrospectionURL(), url.Values{"token": {opaque}}, false)
	require.Equal(t, http.StatusServiceUnavailable, status)
}

func TestTokenExchange(t *testing.T) {
	iss := identitytest.NewIssuer(t, identitytest.WithExchangeLifetime(2*time.Minute))
	subject := iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read", "crm:write", "notes"), identitytest.Email("a@example.com"))
	shortLived := iss.Mint(t, identitytest.Subject("alice"), identitytest.ExpiresIn(30*time.Second))
	revoked := iss.Mint(t)
	iss.Revoke(revoked)
	clientID, _ := iss.ClientCredentials()

	valid := func(mod func(url.Values)) url.Values {
		v := url.Values{
			"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"subject_token":      {subject},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
			"audience":           {"https://backend.example.com"},
		}
		if mod != nil {
			mod(v)
		}
		return v
	}
	cases := []struct {
		name       string
		form       url.Values
		noAuth     bool
		wantStatus int
		wantError  string
		wantAud    any
		wantScope  string
		maxTTL     time.Duration
	}{
		{"audience", valid(nil), false, 200, "", "https://backend.example.com", "crm:read crm:write notes", 2 * time.Minute},
		{"resource and audience", valid(func(v url.Values) { v.Set("resource", "https://r.example.com/api") }), false, 200, "",
			[]any{"https://backend.example.com", "https://r.example.com/api"}, "crm:read crm:write notes", 2 * time.Minute},
		{"resource only", valid(func(v url.Values) { v.Del("audience"); v.Set("resource", "https://r.example.com") }), false, 200, "", "https://r.example.com", "crm:read crm:write notes", 2 * time.Minute},
		{"narrowed scope", valid(func(v url.Values) { v.Set("scope", "notes admin") }), false, 200, "", "https://backend.example.com", "notes", 2 * time.Minute},
		{"expiry bounded by subject token", valid(func(v url.Values) { v.Set("subject_token", shortLived) }), false, 200, "", "https://backend.example.com", "", 30 * time.Second},
		{"jwt token type", valid(func(v url.Values) { v.Set("subject_token_type", "urn:ietf:params:oauth:token-type:jwt") }), false, 200, "", "https://backend.example.com", "crm:read crm:write notes", 2 * time.Minute},
		{"scope not held", valid(func(v url.Values) { v.Set("scope", "admin") }), false, 400, "invalid_scope", nil, "", 0},
		{"no audience", valid(func(v url.Values) { v.Del("audience") }), false, 400, "invalid_request", nil, "", 0},
		{"bad resource", valid(func(v url.Values) { v.Set("resource", "relative/path") }), false, 400, "invalid_target", nil, "", 0},
		{"other grant", valid(func(v url.Values) { v.Set("grant_type", "client_credentials") }), false, 400, "unsupported_grant_type", nil, "", 0},
		{"no subject token", valid(func(v url.Values) { v.Del("subject_token") }), false, 400, "invalid_request", nil, "", 0},
		{"bad subject token type", valid(func(v url.Values) { v.Set("subject_token_type", "urn:ietf:params:oauth:token-type:id_token") }), false, 400, "invalid_request", nil, "", 0},
		{"actor token", valid(func(v url.Values) { v.Set("actor_token", subject) }), false, 400, "invalid_request", nil, "", 0},
		{"forged subject token", valid(func(v url.Values) { v.Set("subject_token", iss.Mint(t, identitytest.ForeignKey())) }), false, 400, "invalid_request", nil, "", 0},
		{"expired subject token", valid(func(v url.Values) { v.Set("subject_token", iss.Mint(t, identitytest.ExpiresIn(-time.Minute))) }), false, 400, "invalid_request", nil, "", 0},
		{"revoked subject token", valid(func(v url.Values) { v.Set("subject_token", revoked) }), false, 400, "invalid_request", nil, "", 0},
		{"opaque subject token", valid(func(v url.Values) { v.Set("subject_token", iss.MintOpaque(t)) }), false, 400, "invalid_request", nil, "", 0},
		{"no client auth", valid(nil), true, 401, "invalid_client", nil, "", 0},
	}
	succeeded := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := postForm(t, iss, iss.TokenURL(), tc.form, tc.noAuth)
			require.Equal(t, tc.wantStatus, status, body)
			if tc.wantError != "" {
				require.Equal(t, tc.wantError, body["error"])
				require.NotEmpty(t, body["error_description"])
				return
			}
			succeeded++
			require.Equal(t, "urn:ietf:params:oauth:token-type:access_token", body["issued_token_type"])
			require.Equal(t, "Bearer", body["token_type"])
			ttl := time.Duration(body["expires_in"].(float64)) * time.Second
			require.LessOrEqual(t, ttl, tc.maxTTL)
			require.Positive(t, ttl)
			_, claims := parse(t, iss, body["access_token"].(string))
			require.Equal(t, "alice", claims["sub"])
			require.Equal(t, iss.URL(), claims["iss"])
			require.Equal(t, tc.wantAud, claims["aud"])
			require.Equal(t, clientID, claims["client_id"])
			if tc.wantScope == "" {
				require.NotContains(t, claims, "scope")
				require.NotContains(t, body, "scope")
			} else {
				require.Equal(t, tc.wantScope, claims["scope"])
				require.Equal(t, tc.wantScope, body["scope"])
				require.Equal(t, "a@example.com", claims["email"])
			}
		})
	}
	require.Equal(t, succeeded, iss.Exchanges())

	iss.SetTokenEndpointAvailable(false)
	status, body := postForm(t, iss, iss.TokenURL(), valid(nil), false)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Equal(t, "temporarily_unavailable", body["error"])
	require.Equal(t, succeeded, iss.Exchanges())
}

func TestEndpointsRefuseOtherMethods(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	for _, u := range []string{iss.IntrospectionURL(), iss.TokenURL()} {
		resp, err := http.Get(u)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, u)
	}
}
