package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/scopes"
)

// introspectionConfig returns a configuration that trusts iss.
func introspectionConfig(iss *identitytest.Issuer) identity.IntrospectionConfig {
	id, secret := iss.ClientCredentials()
	return identity.IntrospectionConfig{
		Endpoint:     iss.IntrospectionURL(),
		ClientID:     id,
		ClientSecret: secret,
		Issuer:       iss.URL(),
		Audiences:    []string{iss.Audience()},
	}
}

func newIntrospectionVerifier(t *testing.T, cfg identity.IntrospectionConfig) *identity.IntrospectionVerifier {
	t.Helper()
	v, err := identity.NewIntrospectionVerifier(cfg)
	require.NoError(t, err)
	return v
}

// TestIntrospectionVerifier covers SPEC 21 against identitytest's RFC 7662
// endpoint over real HTTP.
func TestIntrospectionVerifier(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	tests := []struct {
		name      string
		opts      []identitytest.TokenOption
		configure func(*identity.IntrospectionConfig)
		revoke    bool
		wantErr   error
		check     func(*testing.T, *identity.Identity)
	}{
		{
			name: "active",
			opts: []identitytest.TokenOption{
				identitytest.Subject("alice"), identitytest.Scopes("crm:read", "notes"),
				identitytest.ClientID("claude"), identitytest.Email("alice@example.com"), identitytest.Name("Alice"),
			},
			check: func(t *testing.T, id *identity.Identity) {
				require.Equal(t, "alice", id.Subject)
				require.Equal(t, "alice", id.UserID)
				require.Equal(t, iss.URL(), id.Issuer)
				require.Equal(t, []string{iss.Audience()}, id.Audience)
				require.Equal(t, scopes.Of("crm:read", "notes"), id.Scopes)
				require.Equal(t, "claude", id.ClientID)
				require.Equal(t, "alice@example.com", id.Email)
				require.Equal(t, "Alice", id.Name)
				require.NotEmpty(t, id.TokenID)
				require.False(t, id.ExpiresAt.IsZero())
				require.False(t, id.IssuedAt.IsZero())
				require.Equal(t, true, id.Claims["active"])
			},
		},
		{
			name: "scopes from scp and permissions arrays",
			opts: []identitytest.TokenOption{
				identitytest.Without("scope"),
				identitytest.ScopeClaim("scp", []string{"a", "b"}),
				identitytest.ScopeClaim("permissions", []string{"read:x"}),
			},
			check: func(t *testing.T, id *identity.Identity) {
				require.Equal(t, scopes.Of("a", "b", "read:x"), id.Scopes)
			},
		},
		{
			name:      "scope claims configurable",
			opts:      []identitytest.TokenOption{identitytest.Scopes("a"), identitytest.ScopeClaim("roles", []string{"admin"})},
			configure: func(c *identity.IntrospectionConfig) { c.ScopeClaims = []string{"roles"} },
			check: func(t *testing.T, id *identity.Identity) {
				require.Equal(t, scopes.Of("admin"), id.Scopes)
			},
		},
		{
			name:      "audience among several, trailing slash",
			opts:      []identitytest.TokenOption{identitytest.Audience("https://other.example", iss.Audience()+"/")},
			configure: func(c *identity.IntrospectionConfig) { c.Audiences = []string{"https://x.example", iss.Audience()} },
		},
		{
			name:      "issuer with trailing slash configured",
			configure: func(c *identity.IntrospectionConfig) { c.Issuer = iss.URL() + "/" },
		},
		{
			name:      "issuer not checked when skipped",
			opts:      []identitytest.TokenOption{identitytest.IssuerClaim("https://elsewhere.example")},
			configure: func(c *identity.IntrospectionConfig) { c.Issuer, c.InsecureSkipIssuerCheck = "", true },
		},
		{
			name:      "no issuer accepted when skipped",
			opts:      []identitytest.TokenOption{identitytest.Without("iss")},
			configure: func(c *identity.IntrospectionConfig) { c.Issuer, c.InsecureSkipIssuerCheck = "", true },
		},
		{
			name: "user id hook",
			opts: []identitytest.TokenOption{identitytest.Subject("auth0|123")},
			configure: func(c *identity.IntrospectionConfig) {
				c.UserID = func(id *identity.Identity) (string, error) { return "u-" + id.Subject[6:], nil }
			},
			check: func(t *testing.T, id *identity.Identity) {
				require.Equal(t, "auth0|123", id.Subject)
				require.Equal(t, "u-123", id.UserID)
			},
		},
		{
			name: "user id hook refuses with a sentinel",
			configure: func(c *identity.IntrospectionConfig) {
				c.UserID = func(*identity.Identity) (string, error) {
					return "", fmt.Errorf("user store down: %w", identity.ErrVerifierUnavailable)
				}
			},
			wantErr: identity.ErrVerifierUnavailable,
		},
		{
			name: "user id hook refuses with another error",
			configure: func(c *identity.IntrospectionConfig) {
				c.UserID = func(*identity.Identity) (string, error) { return "", errors.New("no such user") }
			},
			wantErr: identity.ErrInactive,
		},
		{
			name: "user id hook returns nothing",
			configure: func(c *identity.IntrospectionConfig) {
				c.UserID = func(*identity.Identity) (string, error) { return "", nil }
			},
			wantErr: identity.ErrInactive,
		},
		{
			name: "user id hook sees the token",
			configure: func(c *identity.IntrospectionConfig) {
				c.UserID = func(id *identity.Identity) (string, error) {
					if !strings.HasPrefix(id.Token(), "op_") {
						return "", errors.New("no token")
					}
					return id.Subject, nil
				}
			},
		},
		{name: "revoked", revoke: true, wantErr: identity.ErrInactive},
		{name: "expired (the endpoint says inactive)", opts: []identitytest.TokenOption{identitytest.ExpiresIn(-time.Minute)}, wantErr: identity.ErrInactive},
		{name: "wrong audience", opts: []identitytest.TokenOption{identitytest.Audience("https://other.example/mcp")}, wantErr: identity.ErrBadAudience},
		{name: "no audience", opts: []identitytest.TokenOption{identitytest.NoAudience()}, wantErr: identity.ErrMissingClaim},
		{
			name:      "no audience allowed when insecure option set",
			opts:      []identitytest.TokenOption{identitytest.NoAudience()},
			configure: func(c *identity.IntrospectionConfig) { c.InsecureAllowMissingAudience = true },
		},
		{
			name:      "wrong audience refused even with insecure option",
			opts:      []identitytest.TokenOption{identitytest.Audience("https://other.example/mcp")},
			configure: func(c *identity.IntrospectionConfig) { c.InsecureAllowMissingAudience = true },
			wantErr:   identity.ErrBadAudience,
		},
		{name: "wrong issuer", opts: []identitytest.TokenOption{identitytest.IssuerClaim("https://evil.example")}, wantErr: identity.ErrBadIssuer},
		{name: "no issuer", opts: []identitytest.TokenOption{identitytest.Without("iss")}, wantErr: identity.ErrMissingClaim},
		{name: "no subject", opts: []identitytest.TokenOption{identitytest.Without("sub")}, wantErr: identity.ErrMissingClaim},
		{
			name:      "wrong client secret",
			configure: func(c *identity.IntrospectionConfig) { c.ClientSecret = "wrong" },
			wantErr:   identity.ErrVerifierUnavailable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := introspectionConfig(iss)
			if tt.configure != nil {
				tt.configure(&cfg)
			}
			v := newIntrospectionVerifier(t, cfg)
			tok := iss.MintOpaque(t, tt.opts...)
			if tt.revoke {
				iss.Revoke(tok)
			}
			id, err := v.Verify(context.Background(), tok)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Nil(t, id)
				require.NotContains(t, err.Error(), tok)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tok, id.Token())
			if tt.check != nil {
				tt.check(t, id)
			}
		})
	}
}

func TestIntrospectionCache(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	ctx := context.Background()

	t.Run("active result cached", func(t *testing.T) {
		v := newIntrospectionVerifier(t, introspectionConfig(iss))
		tok := iss.MintOpaque(t, identitytest.Subject("alice"))
		before := iss.Introspections()
		first, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		second, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		require.Same(t, first, second)
		require.Equal(t, before+1, iss.Introspections())

		// Documented trade-off: a token revoked after it was cached stays
		// accepted until the cache entry ends (at most CacheTTL).
		iss.Revoke(tok)
		_, err = v.Verify(ctx, tok)
		require.NoError(t, err)
		require.Equal(t, before+1, iss.Introspections())
	})

	t.Run("inactive result not cached", func(t *testing.T) {
		v := newIntrospectionVerifier(t, introspectionConfig(iss))
		tok := iss.MintOpaque(t)
		iss.Revoke(tok)
		before := iss.Introspections()
		for range 3 {
			_, err := v.Verify(ctx, tok)
			require.ErrorIs(t, err, identity.ErrInactive)
		}
		require.Equal(t, before+3, iss.Introspections())
	})

	t.Run("cache disabled: revocation seen at once", func(t *testing.T) {
		cfg := introspectionConfig(iss)
		cfg.CacheTTL = -1
		v := newIntrospectionVerifier(t, cfg)
		tok := iss.MintOpaque(t)
		before := iss.Introspections()
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		_, err = v.Verify(ctx, tok)
		require.NoError(t, err)
		require.Equal(t, before+2, iss.Introspections())
		iss.Revoke(tok)
		_, err = v.Verify(ctx, tok)
		require.ErrorIs(t, err, identity.ErrInactive)
	})

	t.Run("an error is not cached", func(t *testing.T) {
		v := newIntrospectionVerifier(t, introspectionConfig(iss))
		tok := iss.MintOpaque(t)
		iss.SetIntrospectionAvailable(false)
		_, err := v.Verify(ctx, tok)
		require.ErrorIs(t, err, identity.ErrVerifierUnavailable)
		iss.SetIntrospectionAvailable(true)
		id, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		require.Equal(t, identitytest.DefaultSubject, id.Subject)
	})

	// SPEC 21: results are cached no longer than exp, however long
	// CacheTTL is.
	t.Run("cache entry ends at exp", func(t *testing.T) {
		clock := newFakeClock()
		cfg := introspectionConfig(iss)
		cfg.CacheTTL = time.Hour
		cfg.Leeway = -1
		cfg.Now = clock.Now
		v := newIntrospectionVerifier(t, cfg)
		tok := iss.MintOpaque(t, identitytest.ExpiresIn(time.Minute))
		before := iss.Introspections()
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
		clock.Advance(59 * time.Second)
		_, err = v.Verify(ctx, tok)
		require.NoError(t, err)
		require.Equal(t, before+1, iss.Introspections(), "cached before exp")

		clock.Advance(2 * time.Second) // past exp: asked again, and refused
		_, err = v.Verify(ctx, tok)
		require.ErrorIs(t, err, identity.ErrExpired)
		require.Equal(t, before+2, iss.Introspections(), "not served from the cache past exp")
	})

	t.Run("cache serves no other token", func(t *testing.T) {
		v := newIntrospectionVerifier(t, introspectionConfig(iss))
		a := iss.MintOpaque(t, identitytest.Subject("alice"))
		b := iss.MintOpaque(t, identitytest.Subject("bob"))
		ida, err := v.Verify(ctx, a)
		require.NoError(t, err)
		idb, err := v.Verify(ctx, b)
		require.NoError(t, err)
		require.Equal(t, "alice", ida.Subject)
		require.Equal(t, "bob", idb.Subject)
	})
}

// TestIntrospectionUnavailable covers "introspection down → the request
// fails closed": outage, endpoint gone, and the 503 the middleware answers.
func TestIntrospectionUnavailable(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v := newIntrospectionVerifier(t, introspectionConfig(iss))
	srv := httptest.NewServer(identity.Middleware(v, identity.MiddlewareConfig{
		ResourceMetadata: prm, Scopes: []string{"crm:read"},
	})(echoIdentity()))
	defer srv.Close()

	good := iss.MintOpaque(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read"))
	revoked := iss.MintOpaque(t, identitytest.Subject("mallory"))
	iss.Revoke(revoked)
	expired := iss.MintOpaque(t, identitytest.ExpiresIn(-time.Hour))
	fresh := iss.MintOpaque(t, identitytest.Subject("carol"))
	later := iss.MintOpaque(t, identitytest.Subject("dave"))

	steps := []struct {
		name       string
		before     func()
		token      string
		wantStatus int
		wantBody   string
		wantHeader string
		wantRetry  string
	}{
		{name: "active", token: good, wantStatus: 200, wantBody: "GET alice crm:read"},
		{name: "revoked", token: revoked, wantStatus: 401, wantHeader: `Bearer resource_metadata="` + prm + `", scope="crm:read", error="invalid_token", error_description="token not active"`},
		{name: "expired", token: expired, wantStatus: 401, wantHeader: `Bearer resource_metadata="` + prm + `", scope="crm:read", error="invalid_token", error_description="token not active"`},
		{name: "unknown", token: "op_not-a-token", wantStatus: 401, wantBody: errorBody("invalid_token", "token not active")},
		{name: "endpoint answers 503", before: func() { iss.SetIntrospectionAvailable(false) }, token: fresh, wantStatus: 503, wantRetry: "10", wantBody: errorBody("service_unavailable", "token verifier unavailable")},
		{name: "endpoint back", before: func() { iss.SetIntrospectionAvailable(true) }, token: fresh, wantStatus: 200, wantBody: "GET carol "},
		{name: "cached token survives the endpoint going away", before: iss.Close, token: good, wantStatus: 200, wantBody: "GET alice crm:read"},
		{name: "endpoint gone: fail closed", token: later, wantStatus: 503, wantRetry: "10", wantBody: errorBody("service_unavailable", "token verifier unavailable")},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.before != nil {
				st.before()
			}
			got := do(t, srv, http.MethodGet, "/", "Authorization", "Bearer "+st.token)
			require.Equal(t, st.wantStatus, got.status)
			require.Equal(t, st.wantRetry, got.retryAfter)
			if st.wantBody != "" {
				require.Equal(t, st.wantBody, got.body)
			}
			if st.wantHeader != "" {
				require.Equal(t, []string{st.wantHeader}, got.challenges)
			}
			if st.wantStatus == 503 {
				require.Empty(t, got.challenges)
			}
			require.NotContains(t, got.body, st.token)
		})
	}
}

// fakeIntrospection is an introspection endpoint whose answer a test sets.
type fakeIntrospection struct {
	mu       sync.Mutex
	status   int
	body     string
	requests []*http.Request
	forms    []string
}

func (f *fakeIntrospection) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	f.mu.Lock()
	f.requests = append(f.requests, r)
	f.forms = append(f.forms, r.PostForm.Encode())
	status, body := f.status, f.body
	f.mu.Unlock()
	if status == 0 {
		status = 200
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func (f *fakeIntrospection) set(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body = status, body
}

func (f *fakeIntrospection) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// TestIntrospectionAcceptBoundTokens: with InsecureAcceptBoundTokens a
// sender-constrained token is accepted as a bearer token, and other token
// kinds are still refused.
func TestIntrospectionAcceptBoundTokens(t *testing.T) {
	fake := &fakeIntrospection{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	const aud = "https://mcp.example.com/mcp"
	v := newIntrospectionVerifier(t, identity.IntrospectionConfig{
		Endpoint: srv.URL, ClientID: "c", ClientSecret: "s",
		Issuer: "https://idp.example", Audiences: []string{aud}, CacheTTL: -1,
		InsecureAcceptBoundTokens: true,
	})
	body := func(extra string) string {
		return fmt.Sprintf(`{"active":true,"sub":"alice","aud":%q,"iss":"https://idp.example","exp":%d%s}`, aud, time.Now().Unix()+60, extra)
	}
	fake.set(0, body(`,"token_type":"DPoP","cnf":{"jkt":"x"}`))
	id, err := v.Verify(context.Background(), "dpop-token")
	require.NoError(t, err)
	require.Equal(t, "alice", id.Subject)
	fake.set(0, body(`,"cnf":{"x5t#S256":"x"}`))
	_, err = v.Verify(context.Background(), "mtls-token")
	require.NoError(t, err)
	fake.set(0, body(`,"token_type":"refresh_token","cnf":{"jkt":"x"}`))
	_, err = v.Verify(context.Background(), "refresh-token")
	require.ErrorIs(t, err, identity.ErrBadType)
}

// TestIntrospectionResponses covers how the verifier judges what an
// endpoint answers, including broken answers (fail closed).
func TestIntrospectionResponses(t *testing.T) {
	fake := &fakeIntrospection{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	const aud = "https://mcp.example.com/mcp"
	now := time.Now().Unix()
	active := func(extra string) string {
		return fmt.Sprintf(`{"active":true,"sub":"alice","aud":%q,"iss":"https://idp.example","exp":%d%s}`, aud, now+3600, extra)
	}
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr error
		check   func(*testing.T, *identity.Identity)
	}{
		{name: "active", body: active(`,"scope":"a b","client_id":"c1"`), check: func(t *testing.T, id *identity.Identity) {
			require.Equal(t, "alice", id.Subject)
			require.Equal(t, scopes.Of("a", "b"), id.Scopes)
			require.Equal(t, "c1", id.ClientID)
			require.Equal(t, now+3600, id.ExpiresAt.Unix())
		}},
		{name: "azp as client", body: active(`,"azp":"c2"`), check: func(t *testing.T, id *identity.Identity) {
			require.Equal(t, "c2", id.ClientID)
		}},
		{name: "fractional exp", body: fmt.Sprintf(`{"active":true,"sub":"a","aud":%q,"iss":"https://idp.example","exp":%d.5}`, aud, now+60), check: func(t *testing.T, id *identity.Identity) {
			require.Equal(t, now+60, id.ExpiresAt.Unix())
		}},
		{name: "no exp is accepted", body: fmt.Sprintf(`{"active":true,"sub":"a","aud":%q,"iss":"https://idp.example"}`, aud), check: func(t *testing.T, id *identity.Identity) {
			require.True(t, id.ExpiresAt.IsZero())
		}},
		{name: "inactive", body: `{"active":false}`, wantErr: identity.ErrInactive},
		{name: "inactive with claims", body: `{"active":false,"sub":"alice"}`, wantErr: identity.ErrInactive},
		{name: "expired though active", body: fmt.Sprintf(`{"active":true,"sub":"a","aud":%q,"iss":"https://idp.example","exp":%d}`, aud, now-120), wantErr: identity.ErrExpired},
		{name: "not yet valid", body: active(fmt.Sprintf(`,"nbf":%d`, now+600)), wantErr: identity.ErrNotYetValid},
		{name: "active as a string", body: `{"active":"true","sub":"a"}`, wantErr: identity.ErrVerifierUnavailable},
		{name: "no active member", body: `{"sub":"a"}`, wantErr: identity.ErrVerifierUnavailable},
		{name: "not JSON", body: `<html>oops</html>`, wantErr: identity.ErrVerifierUnavailable},
		{name: "JSON null", body: `null`, wantErr: identity.ErrVerifierUnavailable},
		{name: "JSON array", body: `[true]`, wantErr: identity.ErrVerifierUnavailable},
		{name: "status 500", status: 500, body: active(""), wantErr: identity.ErrVerifierUnavailable},
		{name: "status 401 (bad client credentials)", status: 401, body: `{"error":"invalid_client"}`, wantErr: identity.ErrVerifierUnavailable},
		{name: "too large", body: active(`,"pad":"` + strings.Repeat("x", 70<<10) + `"`), wantErr: identity.ErrVerifierUnavailable},
		{name: "exp of wrong type", body: fmt.Sprintf(`{"active":true,"sub":"a","aud":%q,"exp":"tomorrow"}`, aud), wantErr: identity.ErrVerifierUnavailable},
		{name: "aud of wrong type", body: `{"active":true,"sub":"a","aud":7}`, wantErr: identity.ErrVerifierUnavailable},
		{name: "scope of wrong type", body: active(`,"scope":{"a":1}`), wantErr: identity.ErrVerifierUnavailable},
		{name: "sub of wrong type", body: fmt.Sprintf(`{"active":true,"sub":5,"aud":%q}`, aud), wantErr: identity.ErrVerifierUnavailable},
		{name: "wrong audience", body: `{"active":true,"sub":"a","iss":"https://idp.example","aud":["https://a.example","https://b.example"]}`, wantErr: identity.ErrBadAudience},
		{name: "wrong issuer", body: fmt.Sprintf(`{"active":true,"sub":"a","aud":%q,"iss":"https://evil.example"}`, aud), wantErr: identity.ErrBadIssuer},

		// What kind of token it is: endpoints that introspect refresh
		// and ID tokens as active name them so.
		{name: "token_type Bearer", body: active(`,"token_type":"Bearer"`)},
		{name: "token_type access_token (Duende)", body: active(`,"token_type":"access_token"`)},
		{name: "token_type RFC 8693 access token", body: active(`,"token_type":"urn:ietf:params:oauth:token-type:access_token"`)},
		{name: "token_use access_token (Hydra)", body: active(`,"token_type":"Bearer","token_use":"access_token"`)},
		{name: "token_use access (Cognito)", body: active(`,"token_use":"access"`)},
		{name: "typ Bearer (Keycloak)", body: active(`,"typ":"Bearer"`)},
		{name: "token_use and typ of other types are ignored", body: active(`,"token_use":7,"typ":{"x":1}`)},
		{name: "token_type refresh_token", body: active(`,"token_type":"refresh_token"`), wantErr: identity.ErrBadType},
		{name: "token_type RFC 8693 refresh token", body: active(`,"token_type":"urn:ietf:params:oauth:token-type:refresh_token"`), wantErr: identity.ErrBadType},
		{name: "token_type N_A", body: active(`,"token_type":"N_A"`), wantErr: identity.ErrBadType},
		{name: "token_use refresh_token (Hydra)", body: active(`,"token_type":"Bearer","token_use":"refresh_token"`), wantErr: identity.ErrBadType},
		{name: "token_use id (Cognito)", body: active(`,"token_use":"id"`), wantErr: identity.ErrBadType},
		{name: "typ Refresh (Keycloak)", body: active(`,"typ":"Refresh"`), wantErr: identity.ErrBadType},
		{name: "typ Offline (Keycloak)", body: active(`,"typ":"Offline"`), wantErr: identity.ErrBadType},
		{name: "typ ID (Keycloak)", body: active(`,"typ":"ID"`), wantErr: identity.ErrBadType},
		{name: "token_type of wrong type", body: active(`,"token_type":1`), wantErr: identity.ErrVerifierUnavailable},

		// Sender-constrained tokens are not bearer tokens (RFC 9449 §7.2,
		// RFC 8705 §3).
		{name: "DPoP token", body: active(`,"token_type":"DPoP","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}`), wantErr: identity.ErrBoundToken},
		{name: "token_type DPoP alone", body: active(`,"token_type":"dpop"`), wantErr: identity.ErrBoundToken},
		{name: "mTLS-bound token", body: active(`,"token_type":"Bearer","cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}`), wantErr: identity.ErrBoundToken},
	}
	v := newIntrospectionVerifier(t, identity.IntrospectionConfig{
		Endpoint: srv.URL + "/introspect", ClientID: "rs client", ClientSecret: "s3cr3t:+/",
		Issuer: "https://idp.example/", Audiences: []string{aud}, CacheTTL: -1,
	})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.set(tt.status, tt.body)
			tok := fmt.Sprintf("opaque-token-%d", i)
			id, err := v.Verify(context.Background(), tok)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.NotContains(t, err.Error(), tok)
				if !errors.Is(tt.wantErr, identity.ErrVerifierUnavailable) {
					require.False(t, identity.Unavailable(err))
				}
				return
			}
			require.NoError(t, err)
			if tt.check != nil {
				tt.check(t, id)
			}
		})
	}

	// The requests were RFC 7662 requests authenticated as the resource
	// server (RFC 6749 §2.3.1 encoding of the credentials).
	fake.mu.Lock()
	defer fake.mu.Unlock()
	require.Len(t, fake.requests, len(tests))
	for i, r := range fake.requests {
		require.Equal(t, http.MethodPost, r.Method)
		require.Equal(t, "/introspect", r.URL.Path)
		require.Empty(t, r.URL.RawQuery)
		require.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
		require.Equal(t, "application/json", r.Header.Get("Accept"))
		user, pass, ok := r.BasicAuth()
		require.True(t, ok)
		require.Equal(t, "rs+client", user)
		require.Equal(t, "s3cr3t%3A%2B%2F", pass)
		require.Equal(t, fmt.Sprintf("token=opaque-token-%d&token_type_hint=access_token", i), fake.forms[i])
	}
}

func TestIntrospectionTransport(t *testing.T) {
	t.Run("redirect not followed", func(t *testing.T) {
		target := &fakeIntrospection{body: `{"active":true,"sub":"a","aud":"x"}`}
		dst := httptest.NewServer(target)
		defer dst.Close()
		redirect := httptest.NewServer(http.RedirectHandler(dst.URL, http.StatusTemporaryRedirect))
		defer redirect.Close()
		for _, client := range []*http.Client{nil, {Timeout: 3 * time.Second}, {CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}} {
			v := newIntrospectionVerifier(t, identity.IntrospectionConfig{Endpoint: redirect.URL, ClientID: "c", ClientSecret: "s", Audiences: []string{"x"}, InsecureSkipIssuerCheck: true, HTTPClient: client})
			_, err := v.Verify(context.Background(), "tok")
			require.ErrorIs(t, err, identity.ErrVerifierUnavailable)
			require.Zero(t, target.count(), "the token was posted to the redirect's target (HTTPClient %v)", client)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer slow.Close()
		defer close(release)
		v := newIntrospectionVerifier(t, identity.IntrospectionConfig{
			Endpoint: slow.URL, ClientID: "c", ClientSecret: "s", Audiences: []string{"x"}, InsecureSkipIssuerCheck: true, Timeout: 50 * time.Millisecond,
		})
		_, err := v.Verify(context.Background(), "tok")
		require.ErrorIs(t, err, identity.ErrVerifierUnavailable)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("caller cancels", func(t *testing.T) {
		fake := &fakeIntrospection{body: `{"active":true,"sub":"a","aud":"x"}`}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		v := newIntrospectionVerifier(t, identity.IntrospectionConfig{Endpoint: srv.URL, ClientID: "c", ClientSecret: "s", Audiences: []string{"x"}, InsecureSkipIssuerCheck: true})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := v.Verify(ctx, "tok")
		require.ErrorIs(t, err, identity.ErrVerifierUnavailable)
	})

	t.Run("custom client", func(t *testing.T) {
		fake := &fakeIntrospection{body: `{"active":true,"sub":"a","aud":"x"}`}
		srv := httptest.NewTLSServer(fake)
		defer srv.Close()
		v := newIntrospectionVerifier(t, identity.IntrospectionConfig{
			Endpoint: srv.URL, ClientID: "c", ClientSecret: "s", Audiences: []string{"x"}, InsecureSkipIssuerCheck: true, HTTPClient: srv.Client(),
		})
		id, err := v.Verify(context.Background(), "tok")
		require.NoError(t, err)
		require.Equal(t, "a", id.Subject)
	})

	t.Run("empty token", func(t *testing.T) {
		fake := &fakeIntrospection{}
		srv := httptest.NewServer(fake)
		defer srv.Close()
		v := newIntrospectionVerifier(t, identity.IntrospectionConfig{Endpoint: srv.URL, ClientID: "c", ClientSecret: "s", Audiences: []string{"x"}, InsecureSkipIssuerCheck: true})
		_, err := v.Verify(context.Background(), "")
		require.ErrorIs(t, err, identity.ErrMissingToken)
		require.Zero(t, fake.count())
	})
}

func TestIntrospectionInvalidConfig(t *testing.T) {
	valid := identity.IntrospectionConfig{Endpoint: "https://idp.example/introspect", ClientID: "c", ClientSecret: "s", Issuer: "https://idp.example", Audiences: []string{"x"}}
	tests := []struct {
		name    string
		mutate  func(*identity.IntrospectionConfig)
		wantErr string
	}{
		{"no endpoint", func(c *identity.IntrospectionConfig) { c.Endpoint = "" }, "Endpoint is required"},
		{"relative endpoint", func(c *identity.IntrospectionConfig) { c.Endpoint = "/introspect" }, "Endpoint"},
		{"no client id", func(c *identity.IntrospectionConfig) { c.ClientID = "" }, "ClientID and ClientSecret"},
		{"no client secret", func(c *identity.IntrospectionConfig) { c.ClientSecret = "" }, "ClientID and ClientSecret"},
		{"no issuer", func(c *identity.IntrospectionConfig) { c.Issuer = "" }, "IntrospectionConfig.Issuer is required"},
		{"issuer only a slash", func(c *identity.IntrospectionConfig) { c.Issuer = "/" }, "IntrospectionConfig.Issuer is required"},
		{"issuer and the skip both set", func(c *identity.IntrospectionConfig) { c.InsecureSkipIssuerCheck = true }, "Issuer and InsecureSkipIssuerCheck are both set"},
		{"no audiences", func(c *identity.IntrospectionConfig) { c.Audiences = nil }, "Audiences is required"},
		{"empty audience", func(c *identity.IntrospectionConfig) { c.Audiences = []string{""} }, "empty audience"},
		{"audience only a slash", func(c *identity.IntrospectionConfig) { c.Audiences = []string{"x", "/"} }, "empty audience"},
		{"plain http endpoint", func(c *identity.IntrospectionConfig) { c.Endpoint = "http://idp.example/introspect" }, "must use https"},
		{"huge leeway", func(c *identity.IntrospectionConfig) { c.Leeway = time.Hour }, "Leeway"},
		{"negative timeout", func(c *identity.IntrospectionConfig) { c.Timeout = -time.Second }, "Timeout"},
		{"negative size", func(c *identity.IntrospectionConfig) { c.MaxResponseBytes = -1 }, "MaxResponseBytes"},
		{"relative endpoint", func(c *identity.IntrospectionConfig) { c.Endpoint = "idp.example/introspect" }, "Endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			v, err := identity.NewIntrospectionVerifier(cfg)
			require.ErrorContains(t, err, tt.wantErr)
			require.Nil(t, v)
		})
	}
	v, err := identity.NewIntrospectionVerifier(valid)
	require.NoError(t, err)
	require.NotNil(t, v)
	for _, endpoint := range []string{"http://127.0.0.1:9/introspect", "http://localhost/introspect", "http://[::1]/introspect"} {
		cfg := valid
		cfg.Endpoint = endpoint
		_, err := identity.NewIntrospectionVerifier(cfg)
		require.NoError(t, err, "plain http on loopback: %s", endpoint)
	}
	cfg := valid
	cfg.Endpoint, cfg.InsecureAllowHTTP = "http://idp.internal/introspect", true
	_, err = identity.NewIntrospectionVerifier(cfg)
	require.NoError(t, err, "plain http, insecurely allowed")
}

// TestIntrospectionIdentityJSON checks that an identity from introspection
// never renders its token.
func TestIntrospectionIdentityRendering(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v := newIntrospectionVerifier(t, introspectionConfig(iss))
	tok := iss.MintOpaque(t, identitytest.Subject("alice"))
	id, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	b, err := json.Marshal(id)
	require.NoError(t, err)
	require.NotContains(t, string(b), tok)
	require.NotContains(t, fmt.Sprintf("%v %+v %#v %s", id, id, id, id), tok)
}

// TestIntrospectionCacheDeadline checks with a fake clock that an active
// result is cached for CacheTTL and never beyond the token's "exp".
func TestIntrospectionCacheDeadline(t *testing.T) {
	t0 := time.Unix(1_900_000_000, 0)
	tests := []struct {
		name     string
		exp      time.Time
		ttl      time.Duration
		cachedAt time.Duration // still cached at t0+cachedAt
		missAt   time.Duration // introspected again at t0+missAt
	}{
		{name: "ttl before exp", exp: t0.Add(time.Hour), ttl: time.Minute, cachedAt: time.Minute - time.Second, missAt: time.Minute},
		{name: "exp before ttl", exp: t0.Add(10 * time.Second), ttl: time.Minute, cachedAt: 9 * time.Second, missAt: 10 * time.Second},
		{name: "default ttl", exp: t0.Add(time.Hour), cachedAt: 59 * time.Second, missAt: 60 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &fakeIntrospection{body: fmt.Sprintf(`{"active":true,"sub":"alice","aud":"x","exp":%d}`, tt.exp.Unix())}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			var mu sync.Mutex
			now := t0
			v := newIntrospectionVerifier(t, identity.IntrospectionConfig{
				Endpoint: srv.URL, ClientID: "c", ClientSecret: "s", Audiences: []string{"x"}, InsecureSkipIssuerCheck: true, CacheTTL: tt.ttl,
				Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
			})
			at := func(d time.Duration) {
				mu.Lock()
				defer mu.Unlock()
				now = t0.Add(d)
			}
			_, err := v.Verify(context.Background(), "tok")
			require.NoError(t, err)
			require.Equal(t, 1, fake.count())
			at(tt.cachedAt)
			_, err = v.Verify(context.Background(), "tok")
			require.NoError(t, err)
			require.Equal(t, 1, fake.count(), "cached")
			at(tt.missAt)
			_, err = v.Verify(context.Background(), "tok")
			require.NoError(t, err) // within the leeway
			require.Equal(t, 2, fake.count(), "introspected again")
		})
	}
}
