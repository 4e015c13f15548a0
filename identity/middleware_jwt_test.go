package identity_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// TestMiddlewareJWT runs SPEC rows 6-9, 12, 19 and 26 end to end: the
// middleware in front of a real JWTVerifier that fetches its keys from an
// identitytest issuer, over real HTTP.
func TestMiddlewareJWT(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{identitytest.DefaultAudience},
	})
	require.NoError(t, err)
	t.Cleanup(v.Close)

	var logMu sync.Mutex
	var logBuf bytes.Buffer
	mw := identity.Middleware(v, identity.MiddlewareConfig{
		ResourceMetadata: prm,
		Scopes:           []string{"crm:read", "notes"},
		Logger:           slog.New(slog.NewTextHandler(&syncWriter{w: &logBuf, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	srv := httptest.NewServer(mw(echoIdentity()))
	defer srv.Close()

	alice := iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("crm:read", "notes"))
	bob := iss.Mint(t, identitytest.Subject("bob"))
	missingToken := errorBody("unauthorized", "missing bearer token")
	badRequest := errorBody("invalid_request", "malformed authorization request")

	tests := []struct {
		name       string
		method     string
		target     string
		headers    []string
		wantStatus int
		wantHeader string
		wantBody   string
	}{
		{name: "no token GET", wantStatus: 401, wantHeader: noTokenHeader, wantBody: missingToken},
		{name: "no token POST", method: http.MethodPost, wantStatus: 401, wantHeader: noTokenHeader, wantBody: missingToken},
		{name: "no token DELETE", method: http.MethodDelete, wantStatus: 401, wantHeader: noTokenHeader, wantBody: missingToken},
		{name: "OPTIONS not gated", method: http.MethodOptions, wantStatus: 200, wantBody: "OPTIONS anonymous"},

		{name: "valid GET", headers: []string{"Authorization", "Bearer " + alice}, wantStatus: 200, wantBody: "GET alice crm:read notes"},
		{name: "valid POST", method: http.MethodPost, headers: []string{"Authorization", "Bearer " + alice}, wantStatus: 200, wantBody: "POST alice crm:read notes"},
		{name: "valid DELETE", method: http.MethodDelete, headers: []string{"Authorization", "Bearer " + bob}, wantStatus: 200, wantBody: "DELETE bob "},
		{name: "lower-case scheme", headers: []string{"Authorization", "bearer " + alice}, wantStatus: 200, wantBody: "GET alice crm:read notes"},

		{name: "malformed", headers: []string{"Authorization", "Bearer abc.def.ghi"}, wantStatus: 401, wantHeader: invalidToken("malformed token")},
		{name: "bad signature", headers: []string{"Authorization", "Bearer " + iss.Mint(t, identitytest.ForeignKey())}, wantStatus: 401, wantHeader: invalidToken("token signature invalid")},
		{name: "expired", headers: []string{"Authorization", "Bearer " + iss.Mint(t, identitytest.ExpiresIn(-time.Hour))}, wantStatus: 401, wantHeader: invalidToken("token expired")},
		{name: "not yet valid", headers: []string{"Authorization", "Bearer " + iss.Mint(t, identitytest.NotBefore(time.Now().Add(time.Hour)))}, wantStatus: 401, wantHeader: invalidToken("token not yet valid")},
		{name: "wrong issuer", headers: []string{"Authorization", "Bearer " + iss.Mint(t, identitytest.IssuerClaim("https://evil.example"))}, wantStatus: 401, wantHeader: invalidToken("token issuer not accepted")},
		{name: "wrong audience", headers: []string{"Authorization", "Bearer " + iss.Mint(t, identitytest.Audience("https://other.example/mcp"))}, wantStatus: 401, wantHeader: invalidToken("token audience not accepted")},
		{name: "no audience", headers: []string{"Authorization", "Bearer " + iss.Mint(t, identitytest.NoAudience())}, wantStatus: 401, wantHeader: invalidToken("token lacks a required claim")},
		{name: "alg none", headers: []string{"Authorization", "Bearer " + iss.Mint(t, identitytest.AlgNone())}, wantStatus: 401, wantHeader: invalidToken("token signing algorithm not accepted")},
		{name: "encrypted", headers: []string{"Authorization", "Bearer eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"}, wantStatus: 401, wantHeader: invalidToken("encrypted token (JWE) not supported")},
		{name: "opaque", headers: []string{"Authorization", "Bearer " + iss.MintOpaque(t)}, wantStatus: 401, wantHeader: invalidToken("opaque token not accepted")},
		{name: "mTLS-bound", headers: []string{"Authorization", "Bearer " + iss.Mint(t, identitytest.Claim("cnf", map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}))}, wantStatus: 401, wantHeader: invalidToken("sender-constrained token not accepted as a bearer token")},

		{name: "token in query", target: "/?access_token=" + alice, wantStatus: 400, wantHeader: invalidRequest, wantBody: badRequest},
		{name: "token sent two ways", method: http.MethodPost, target: "/?access_token=" + alice, headers: []string{"Authorization", "Bearer " + alice}, wantStatus: 400, wantHeader: invalidRequest, wantBody: badRequest},
		{name: "bearer with no token", headers: []string{"Authorization", "Bearer "}, wantStatus: 400, wantHeader: invalidRequest, wantBody: badRequest},
		// alice's token is cached by now: appended to, it is another
		// token, and its syntax is checked again (400, not the 401 of a
		// token that fails verification).
		{name: "cached token with a comma appended", headers: []string{"Authorization", "Bearer " + alice + ","}, wantStatus: 400, wantHeader: invalidRequest, wantBody: badRequest},
		{name: "two authorization headers", headers: []string{"Authorization", "Bearer " + alice, "Authorization", "Bearer " + bob}, wantStatus: 400, wantHeader: invalidRequest, wantBody: badRequest},
	}
	var sent []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			target := tt.target
			if target == "" {
				target = "/"
			}
			got := do(t, srv, method, target, tt.headers...)
			require.Equal(t, tt.wantStatus, got.status)
			if tt.wantBody != "" {
				require.Equal(t, tt.wantBody, got.body)
			}
			if tt.wantHeader == "" {
				require.Empty(t, got.challenges)
			} else {
				require.Equal(t, []string{tt.wantHeader}, got.challenges)
			}
			for i := 0; i+1 < len(tt.headers); i += 2 {
				if tok, ok := strings.CutPrefix(tt.headers[i+1], "Bearer "); ok && tok != "" {
					sent = append(sent, tok)
					require.NotContains(t, got.body, tok)
				}
			}
		})
	}

	logMu.Lock()
	defer logMu.Unlock()
	logs := logBuf.String()
	require.NotEmpty(t, logs)
	for _, tok := range append(sent, alice) {
		require.NotContains(t, logs, tok)
		// Not even the signature part alone (when long enough to mean
		// anything).
		if sig := tok[strings.LastIndexByte(tok, '.')+1:]; len(sig) >= 16 {
			require.NotContains(t, logs, sig)
		}
	}
}

// TestMiddlewareJWTKeysUnavailable: a cold start with the issuer's JWKS down
// answers 503 with Retry-After, not 401 invalid_token (SPEC 19), and the
// same token is accepted once keys can be had.
func TestMiddlewareJWTKeysUnavailable(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	iss.SetJWKSAvailable(false)
	var mu sync.Mutex
	now := time.Now()
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{identitytest.DefaultAudience},
		Now:       func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	})
	require.NoError(t, err)
	t.Cleanup(v.Close)
	srv := httptest.NewServer(identity.Middleware(v, identity.MiddlewareConfig{
		ResourceMetadata: prm, RetryAfter: 30 * time.Second,
	})(echoIdentity()))
	defer srv.Close()

	tok := iss.Mint(t, identitytest.Subject("alice"))
	got := do(t, srv, http.MethodPost, "/", "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusServiceUnavailable, got.status)
	require.Equal(t, "30", got.retryAfter)
	require.Empty(t, got.challenges)
	require.Equal(t, "no-store", got.cache)
	require.Equal(t, errorBody("service_unavailable", "signing keys unavailable"), got.body)

	// The issuer comes back; once the verifier may retry (the fake clock
	// moves past its retry interval) the same token is accepted.
	iss.SetJWKSAvailable(true)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	got = do(t, srv, http.MethodPost, "/", "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, got.status)
	require.Equal(t, "POST alice ", got.body)
}
