package identity_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// TestVerifiersRememberVerifiedTokens: Middleware asks the package's
// verifiers for a token they verified before, ahead of its syntax check.
// They know exactly the tokens Verify accepted and cached, as Verify
// returns them, and nothing else; Middleware then serves the token without
// verifying it again.
func TestVerifiersRememberVerifiedTokens(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	jwtV, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{Issuer: iss.URL(), Audiences: []string{iss.Audience()}})
	require.NoError(t, err)
	t.Cleanup(jwtV.Close)
	noCache, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{Issuer: iss.URL(), Audiences: []string{iss.Audience()}, CacheSize: -1})
	require.NoError(t, err)
	t.Cleanup(noCache.Close)

	for _, tc := range []struct {
		name     string
		v        identity.Verifier
		cached   bool
		verifies func() int // how many times the issuer was asked (introspection)
	}{
		{name: "jwt", v: jwtV, cached: true},
		{name: "jwt without a cache", v: noCache},
		{name: "introspection", v: newIntrospectionVerifier(t, introspectionConfig(iss)), cached: true, verifies: iss.Introspections},
		{name: "a VerifierFunc", v: identity.VerifierFunc(jwtV.Verify)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := iss.Mint(t, identitytest.Subject("alice-"+tc.name), identitytest.ExpiresIn(time.Hour))
			_, ok := identity.Remembered(tc.v, tok)
			require.False(t, ok, "known before it was verified")

			id, err := tc.v.Verify(context.Background(), tok)
			require.NoError(t, err)
			got, ok := identity.Remembered(tc.v, tok)
			require.Equal(t, tc.cached, ok)
			if !tc.cached {
				return
			}
			require.Same(t, id, got, "not the identity Verify returned")
			for _, other := range []string{tok + "x", tok[:len(tok)-1], tok + ",", ""} {
				_, ok := identity.Remembered(tc.v, other)
				require.False(t, ok, "a token never verified is remembered")
			}

			// Through Middleware: the remembered token is served as
			// Verify served it, without asking the issuer again.
			var asked int
			if tc.verifies != nil {
				asked = tc.verifies()
			}
			h := identity.Middleware(tc.v, identity.MiddlewareConfig{ResourceMetadata: prm})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ := identity.FromContext(r.Context())
				require.Same(t, id, got)
				w.WriteHeader(http.StatusNoContent)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer  "+tok+" ")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			require.Equal(t, http.StatusNoContent, rec.Code)
			if tc.verifies != nil {
				require.Equal(t, asked, tc.verifies(), "the issuer was asked again")
			}
		})
	}
}

// FuzzMiddlewareRememberedMatchesVerify: Middleware in front of a JWT
// verifier answers every request as it does in front of the same verifier
// hidden behind a VerifierFunc, which has no cache to ask before the
// syntax check: the same status, challenge and body, and the same caller
// admitted. Seeds include the cached token with bytes around it.
func FuzzMiddlewareRememberedMatchesVerify(f *testing.F) {
	iss := identitytest.NewIssuer(f)
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{Issuer: iss.URL(), Audiences: []string{iss.Audience()}})
	require.NoError(f, err)
	f.Cleanup(v.Close)
	tok := iss.Mint(f, identitytest.Subject("alice"), identitytest.ExpiresIn(time.Hour))
	_, err = v.Verify(context.Background(), tok)
	require.NoError(f, err)

	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := identity.FromContext(r.Context())
		if id == nil {
			io.WriteString(w, "anonymous")
			return
		}
		io.WriteString(w, id.Subject)
	})
	cfg := identity.MiddlewareConfig{ResourceMetadata: prm, Scopes: []string{"notes"}}
	remembering := identity.Middleware(v, cfg)(next)
	plain := identity.Middleware(identity.VerifierFunc(v.Verify), cfg)(next)

	for _, s := range []struct{ header, query string }{
		{"Bearer " + tok, ""},
		{"bearer   " + tok + " \t", ""},
		{"Bearer " + tok + ",", ""},
		{"Bearer " + tok + "=", ""},
		{"Bearer " + tok[:len(tok)-1], ""},
		{"Bearer " + tok, "access_token=x"},
		{"Bearer\t" + tok, ""},
		{"Basic " + tok, ""},
		{"Bearer a b", ""},
		{"", ""},
	} {
		f.Add(s.header, s.query, false)
		f.Add(s.header, s.query, true)
	}
	f.Fuzz(func(t *testing.T, header, query string, options bool) {
		method := http.MethodPost
		if options {
			method = http.MethodOptions
		}
		answer := func(h http.Handler) *httptest.ResponseRecorder {
			r := httptest.NewRequest(method, "/mcp", nil)
			r.URL.RawQuery = query
			if header != "" {
				r.Header["Authorization"] = []string{header}
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
		got, want := answer(remembering), answer(plain)
		if got.Code != want.Code || got.Body.String() != want.Body.String() ||
			got.Header().Get("WWW-Authenticate") != want.Header().Get("WWW-Authenticate") {
			t.Fatalf("header %q query %q: %d %q %q, without the cache %d %q %q", header, query,
				got.Code, got.Header().Get("WWW-Authenticate"), got.Body.String(),
				want.Code, want.Header().Get("WWW-Authenticate"), want.Body.String())
		}
	})
}
