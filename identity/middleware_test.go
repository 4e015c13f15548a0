package identity_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

// internalDetail is put in the stub verifier's error texts; it must never
// reach a client.
const internalDetail = "kid=k9 at https://internal.example/jwks"

// stubVerifier accepts "good-token" (alice) and "bob-token" (bob) and fails
// other tokens with the sentinel their name starts with. Its error texts
// carry the token and internal details, as a careless verifier's might.
func stubVerifier() identity.Verifier {
	fails := map[string]error{
		"malformed":   identity.ErrMalformedToken,
		"badsig":      identity.ErrBadSignature,
		"expired":     identity.ErrExpired,
		"wrongiss":    identity.ErrBadIssuer,
		"wrongaud":    identity.ErrBadAudience,
		"encrypted":   identity.ErrEncryptedToken,
		"inactive":    identity.ErrInactive,
		"keysdown":    identity.ErrKeysUnavailable,
		"introdown":   identity.ErrVerifierUnavailable,
		"customerror": nil,
	}
	return identity.VerifierFunc(func(ctx context.Context, tok string) (*identity.Identity, error) {
		switch tok {
		case "good-token":
			return identity.Identity{Subject: "alice", UserID: "alice", Scopes: scopes.Of("crm:read")}.WithToken(tok), nil
		case "bob-token":
			return identity.Identity{Subject: "bob", UserID: "bob"}.WithToken(tok), nil
		case "nil-identity":
			return nil, nil
		}
		name, _, _ := strings.Cut(tok, ".")
		sentinel, ok := fails[name]
		if !ok {
			return nil, fmt.Errorf("stub: unknown token %s (%s): %w", tok, internalDetail, identity.ErrMalformedToken)
		}
		if sentinel == nil {
			return nil, fmt.Errorf("custom failure for %s (%s)", tok, internalDetail)
		}
		return nil, fmt.Errorf("stub: token %s refused (%s): %w", tok, internalDetail, sentinel)
	})
}

// echoIdentity answers with the subject of the request's identity, or
// "anonymous".
func echoIdentity() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if id, ok := identity.FromContext(r.Context()); ok {
			fmt.Fprintf(w, "%s %s %s", r.Method, id.Subject, id.Scopes)
			return
		}
		fmt.Fprintf(w, "%s anonymous", r.Method)
	})
}

// reply is what a test reads from a response.
type reply struct {
	status     int
	challenges []string
	retryAfter string
	cache      string
	body       string
}

func do(t *testing.T, srv *httptest.Server, method, target string, headers ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+target, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return reply{
		status:     res.StatusCode,
		challenges: res.Header.Values("WWW-Authenticate"),
		retryAfter: res.Header.Get("Retry-After"),
		cache:      res.Header.Get("Cache-Control"),
		body:       string(body),
	}
}

// Challenge header values of the standard configuration.
const (
	stdScope       = `scope="crm:read notes"`
	noTokenHeader  = `Bearer resource_metadata="` + prm + `", ` + stdScope
	invalidRequest = `Bearer resource_metadata="` + prm + `", error="invalid_request", error_description="malformed authorization request"`
)

func invalidToken(desc string) string {
	return `Bearer resource_metadata="` + prm + `", ` + stdScope + `, error="invalid_token", error_description="` + desc + `"`
}

func errorBody(code, desc string) string {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	return string(b) + "\n"
}

// TestMiddleware covers SPEC rows 6-9, 12 and 19 (503) over real HTTP.
func TestMiddleware(t *testing.T) {
	mw := identity.Middleware(stubVerifier(), identity.MiddlewareConfig{
		ResourceMetadata: prm,
		Scopes:           []string{"crm:read", "notes"},
	})
	srv := httptest.NewServer(mw(echoIdentity()))
	defer srv.Close()

	type row struct {
		name       string
		method     string
		target     string
		headers    []string
		wantStatus int
		wantHeader string // exact WWW-Authenticate; "" means none
		wantBody   string
		wantRetry  string
	}
	var rows []row
	// SPEC 6, 7: no token → 401 with resource_metadata and scope, no error,
	// on every method.
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch} {
		rows = append(rows, row{
			name: "no token " + m, method: m, wantStatus: 401, wantHeader: noTokenHeader,
			wantBody: errorBody("unauthorized", "missing bearer token"),
		})
	}
	rows = append(rows,
		row{name: "basic scheme is no token", headers: []string{"Authorization", "Basic dXNlcjpwYXNz"}, wantStatus: 401, wantHeader: noTokenHeader, wantBody: errorBody("unauthorized", "missing bearer token")},
		row{name: "empty header is no token", headers: []string{"Authorization", ""}, wantStatus: 401, wantHeader: noTokenHeader, wantBody: errorBody("unauthorized", "missing bearer token")},
		// SPEC 4: URLs come from configuration, not the Host header.
		row{name: "host header ignored", headers: []string{"Host", "evil.example"}, wantStatus: 401, wantHeader: noTokenHeader, wantBody: errorBody("unauthorized", "missing bearer token")},
		row{name: "forwarded headers ignored", headers: []string{"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "http"}, wantStatus: 401, wantHeader: noTokenHeader, wantBody: errorBody("unauthorized", "missing bearer token")},

		// Success, SPEC 12: the scheme is case-insensitive.
		row{name: "valid token GET", headers: []string{"Authorization", "Bearer good-token"}, wantStatus: 200, wantBody: "GET alice crm:read"},
		row{name: "valid token POST", method: http.MethodPost, headers: []string{"Authorization", "Bearer good-token"}, wantStatus: 200, wantBody: "POST alice crm:read"},
		row{name: "valid token DELETE", method: http.MethodDelete, headers: []string{"Authorization", "Bearer good-token"}, wantStatus: 200, wantBody: "DELETE alice crm:read"},
		row{name: "lower-case scheme", headers: []string{"Authorization", "bearer good-token"}, wantStatus: 200, wantBody: "GET alice crm:read"},
		row{name: "upper-case scheme", headers: []string{"Authorization", "BEARER bob-token"}, wantStatus: 200, wantBody: "GET bob "},

		// SPEC 3: OPTIONS is never gated and carries no identity.
		row{name: "OPTIONS without token", method: http.MethodOptions, wantStatus: 200, wantBody: "OPTIONS anonymous"},
		row{name: "OPTIONS with bad token", method: http.MethodOptions, headers: []string{"Authorization", "Bearer expired.x"}, wantStatus: 200, wantBody: "OPTIONS anonymous"},
		row{name: "OPTIONS with good token", method: http.MethodOptions, headers: []string{"Authorization", "Bearer good-token"}, wantStatus: 200, wantBody: "OPTIONS anonymous"},

		// SPEC 8: bad tokens → 401 invalid_token, short fixed description.
		row{name: "malformed", headers: []string{"Authorization", "Bearer malformed.abc"}, wantStatus: 401, wantHeader: invalidToken("malformed token"), wantBody: errorBody("invalid_token", "malformed token")},
		row{name: "bad signature", method: http.MethodPost, headers: []string{"Authorization", "Bearer badsig.abc"}, wantStatus: 401, wantHeader: invalidToken("token signature invalid"), wantBody: errorBody("invalid_token", "token signature invalid")},
		row{name: "expired", method: http.MethodDelete, headers: []string{"Authorization", "Bearer expired.abc"}, wantStatus: 401, wantHeader: invalidToken("token expired"), wantBody: errorBody("invalid_token", "token expired")},
		row{name: "wrong issuer", headers: []string{"Authorization", "Bearer wrongiss.abc"}, wantStatus: 401, wantHeader: invalidToken("token issuer not accepted"), wantBody: errorBody("invalid_token", "token issuer not accepted")},
		row{name: "wrong audience", headers: []string{"Authorization", "Bearer wrongaud.abc"}, wantStatus: 401, wantHeader: invalidToken("token audience not accepted"), wantBody: errorBody("invalid_token", "token audience not accepted")},
		row{name: "encrypted", headers: []string{"Authorization", "Bearer encrypted.a.b.c.d"}, wantStatus: 401, wantHeader: invalidToken("encrypted token (JWE) not supported"), wantBody: errorBody("invalid_token", "encrypted token (JWE) not supported")},
		row{name: "inactive", headers: []string{"Authorization", "Bearer inactive.abc"}, wantStatus: 401, wantHeader: invalidToken("token not active"), wantBody: errorBody("invalid_token", "token not active")},
		row{name: "custom verifier error", headers: []string{"Authorization", "Bearer customerror.abc"}, wantStatus: 401, wantHeader: invalidToken("token invalid"), wantBody: errorBody("invalid_token", "token invalid")},

		// SPEC 9: malformed requests → 400 invalid_request.
		row{name: "token in query", target: "/?access_token=good-token", wantStatus: 400, wantHeader: invalidRequest, wantBody: errorBody("invalid_request", "malformed authorization request")},
		row{name: "token sent two ways", method: http.MethodPost, target: "/?access_token=good-token", headers: []string{"Authorization", "Bearer good-token"}, wantStatus: 400, wantHeader: invalidRequest, wantBody: errorBody("invalid_request", "malformed authorization request")},
		row{name: "bearer with no token", headers: []string{"Authorization", "Bearer"}, wantStatus: 400, wantHeader: invalidRequest, wantBody: errorBody("invalid_request", "malformed authorization request")},
		row{name: "bearer and blanks", headers: []string{"Authorization", "Bearer    "}, wantStatus: 400, wantHeader: invalidRequest, wantBody: errorBody("invalid_request", "malformed authorization request")},
		row{name: "two authorization headers", headers: []string{"Authorization", "Bearer good-token", "Authorization", "Bearer bob-token"}, wantStatus: 400, wantHeader: invalidRequest, wantBody: errorBody("invalid_request", "malformed authorization request")},
		row{name: "space in token", headers: []string{"Authorization", "Bearer good-token extra"}, wantStatus: 400, wantHeader: invalidRequest, wantBody: errorBody("invalid_request", "malformed authorization request")},

		// SPEC 19: the token could not be judged → 503 + Retry-After, no
		// challenge that would make the client drop its token.
		row{name: "keys unavailable", headers: []string{"Authorization", "Bearer keysdown.abc"}, wantStatus: 503, wantRetry: "10", wantBody: errorBody("service_unavailable", "signing keys unavailable")},
		row{name: "introspection unavailable", method: http.MethodPost, headers: []string{"Authorization", "Bearer introdown.abc"}, wantStatus: 503, wantRetry: "10", wantBody: errorBody("service_unavailable", "token verifier unavailable")},
		row{name: "verifier returned nothing", headers: []string{"Authorization", "Bearer nil-identity"}, wantStatus: 503, wantRetry: "10", wantBody: errorBody("service_unavailable", "token verifier unavailable")},
	)
	for _, tt := range rows {
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
			require.Equal(t, tt.wantBody, got.body)
			require.Equal(t, tt.wantRetry, got.retryAfter)
			if tt.wantHeader == "" {
				require.Empty(t, got.challenges)
			} else {
				require.Equal(t, []string{tt.wantHeader}, got.challenges)
				parsed, err := identity.ParseChallenges(got.challenges[0])
				require.NoError(t, err)
				require.Len(t, parsed, 1)
				require.Equal(t, prm, parsed[0].ResourceMetadata)
			}
			if tt.wantStatus != http.StatusOK {
				require.Equal(t, "no-store", got.cache)
				require.NotContains(t, got.body, internalDetail)
				require.NotContains(t, got.challenges, internalDetail)
				for i := 0; i+1 < len(tt.headers); i += 2 {
					if tok, ok := strings.CutPrefix(tt.headers[i+1], "Bearer "); ok && strings.TrimSpace(tok) != "" {
						require.NotContains(t, got.body, strings.TrimSpace(tok))
						require.NotContains(t, strings.Join(got.challenges, ","), strings.TrimSpace(tok))
					}
				}
			}
		})
	}
}

func TestMiddlewareConfig(t *testing.T) {
	tests := []struct {
		name       string
		cfg        identity.MiddlewareConfig
		token      string
		wantStatus int
		wantHeader string
		wantRetry  string
	}{
		{
			name:       "zero config, no token",
			wantStatus: 401, wantHeader: "Bearer",
		},
		{
			name:       "zero config, bad token",
			token:      "expired.x",
			wantStatus: 401, wantHeader: `Bearer error="invalid_token", error_description="token expired"`,
		},
		{
			name:       "realm",
			cfg:        identity.MiddlewareConfig{Realm: `the "api"`, ResourceMetadata: prm},
			wantStatus: 401, wantHeader: `Bearer realm="the \"api\"", resource_metadata="` + prm + `"`,
		},
		{
			name:       "realm and scope, no token",
			cfg:        identity.MiddlewareConfig{Realm: "api", Scopes: []string{"a"}},
			wantStatus: 401, wantHeader: `Bearer realm="api", scope="a"`,
		},
		{
			name:       "no scope on invalid request",
			cfg:        identity.MiddlewareConfig{Realm: "api", Scopes: []string{"a"}},
			token:      "a b",
			wantStatus: 400, wantHeader: `Bearer realm="api", error="invalid_request", error_description="malformed authorization request"`,
		},
		{
			name:       "retry-after rounded up",
			cfg:        identity.MiddlewareConfig{RetryAfter: 1500 * time.Millisecond},
			token:      "keysdown.x",
			wantStatus: 503, wantRetry: "2",
		},
		{
			name:       "retry-after minutes",
			cfg:        identity.MiddlewareConfig{RetryAfter: 2 * time.Minute},
			token:      "introdown.x",
			wantStatus: 503, wantRetry: "120",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(identity.Middleware(stubVerifier(), tt.cfg)(echoIdentity()))
			defer srv.Close()
			var headers []string
			if tt.token != "" {
				headers = []string{"Authorization", "Bearer " + tt.token}
			}
			got := do(t, srv, http.MethodGet, "/", headers...)
			require.Equal(t, tt.wantStatus, got.status)
			require.Equal(t, tt.wantRetry, got.retryAfter)
			if tt.wantHeader == "" {
				require.Empty(t, got.challenges)
			} else {
				require.Equal(t, []string{tt.wantHeader}, got.challenges)
			}
		})
	}
}

func TestMiddlewareInvalidConfig(t *testing.T) {
	v := stubVerifier()
	tests := []struct {
		name    string
		v       identity.Verifier
		cfg     identity.MiddlewareConfig
		wantErr string
	}{
		{name: "nil verifier", cfg: identity.MiddlewareConfig{}, wantErr: "nil Verifier"},
		// A constructor's result whose error was ignored: it used to pass,
		// and every request panicked.
		{name: "typed nil verifier", v: (*identity.JWTVerifier)(nil), cfg: identity.MiddlewareConfig{}, wantErr: "nil Verifier (*identity.JWTVerifier)"},
		{name: "relative metadata URL", v: v, cfg: identity.MiddlewareConfig{ResourceMetadata: "/.well-known/oauth-protected-resource"}, wantErr: "ResourceMetadata"},
		{name: "metadata URL without host", v: v, cfg: identity.MiddlewareConfig{ResourceMetadata: "https:///x"}, wantErr: "ResourceMetadata"},
		{name: "metadata URL with other scheme", v: v, cfg: identity.MiddlewareConfig{ResourceMetadata: "ftp://example.com/x"}, wantErr: "ResourceMetadata"},
		{name: "metadata URL with fragment", v: v, cfg: identity.MiddlewareConfig{ResourceMetadata: "https://example.com/x#y"}, wantErr: "fragment"},
		{name: "scope with space", v: v, cfg: identity.MiddlewareConfig{Scopes: []string{"a b"}}, wantErr: "Scopes"},
		{name: "scope with quote", v: v, cfg: identity.MiddlewareConfig{Scopes: []string{`a"`}}, wantErr: "Scopes"},
		{name: "empty scope", v: v, cfg: identity.MiddlewareConfig{Scopes: []string{""}}, wantErr: "Scopes"},
		{name: "negative retry", v: v, cfg: identity.MiddlewareConfig{RetryAfter: -time.Second}, wantErr: "RetryAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := identity.NewMiddleware(tt.v, tt.cfg)
			require.ErrorContains(t, err, tt.wantErr)
			require.Nil(t, mw)
			require.PanicsWithError(t, err.Error(), func() { identity.Middleware(tt.v, tt.cfg) })
		})
	}
	mw, err := identity.NewMiddleware(v, identity.MiddlewareConfig{ResourceMetadata: "http://localhost:8080/.well-known/oauth-protected-resource"})
	require.NoError(t, err)
	require.NotNil(t, mw)
}

func TestMiddlewareOptional(t *testing.T) {
	srv := httptest.NewServer(identity.Middleware(stubVerifier(), identity.MiddlewareConfig{
		ResourceMetadata: prm, Scopes: []string{"crm:read", "notes"}, Optional: true,
	})(echoIdentity()))
	defer srv.Close()
	tests := []struct {
		name       string
		target     string
		headers    []string
		wantStatus int
		wantBody   string
		wantHeader string
	}{
		{name: "no token passes without identity", wantStatus: 200, wantBody: "GET anonymous"},
		{name: "other scheme passes without identity", headers: []string{"Authorization", "Basic abc"}, wantStatus: 200, wantBody: "GET anonymous"},
		{name: "valid token has identity", headers: []string{"Authorization", "Bearer good-token"}, wantStatus: 200, wantBody: "GET alice crm:read"},
		{name: "bad token still refused", headers: []string{"Authorization", "Bearer expired.x"}, wantStatus: 401, wantHeader: invalidToken("token expired")},
		{name: "query token still refused", target: "/?access_token=x", wantStatus: 400, wantHeader: invalidRequest},
		{name: "empty bearer still refused", headers: []string{"Authorization", "Bearer"}, wantStatus: 400, wantHeader: invalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = "/"
			}
			got := do(t, srv, http.MethodGet, target, tt.headers...)
			require.Equal(t, tt.wantStatus, got.status)
			if tt.wantBody != "" {
				require.Equal(t, tt.wantBody, got.body)
			}
			if tt.wantHeader != "" {
				require.Equal(t, []string{tt.wantHeader}, got.challenges)
			}
		})
	}
}

// TestMiddlewareNeverLogsToken checks SPEC 26 for the log and the failure
// hook: the stub verifier's errors contain the token; neither the log nor
// the hook may.
func TestMiddlewareNeverLogsToken(t *testing.T) {
	var logBuf bytes.Buffer
	var mu sync.Mutex
	type failure struct {
		status int
		err    error
	}
	var failures []failure
	mw := identity.Middleware(stubVerifier(), identity.MiddlewareConfig{
		ResourceMetadata: prm,
		Logger:           slog.New(slog.NewJSONHandler(&syncWriter{w: &logBuf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnFailure: func(r *http.Request, status int, err error) {
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, failure{status, err})
		},
	})
	srv := httptest.NewServer(mw(echoIdentity()))
	defer srv.Close()

	tokens := []struct {
		target, token string
		status        int
		sentinel      error
	}{
		{"/", "expired.Zm9vYmFyYmF6cXV4", 401, identity.ErrExpired},
		{"/", "keysdown.c2VjcmV0LXRva2Vu", 503, identity.ErrKeysUnavailable},
		{"/", "unknown.dGhpcy1pcy1hLXRva2Vu", 401, identity.ErrMalformedToken},
		{"/", "customerror.YW5vdGhlci1vbmU", 401, nil},
		{"/?access_token=cXVlcnktdG9rZW4", "", 400, identity.ErrInvalidRequest},
		{"/path?access_token=cXVlcnktdG9rZW4", "two-ways.dG9rZW4tdHdv", 400, identity.ErrInvalidRequest},
		{"/", "", 401, identity.ErrMissingToken},
	}
	for _, tt := range tokens {
		var headers []string
		if tt.token != "" {
			headers = []string{"Authorization", "Bearer " + tt.token}
		}
		got := do(t, srv, http.MethodGet, tt.target, headers...)
		require.Equal(t, tt.status, got.status)
	}

	mu.Lock()
	defer mu.Unlock()
	logs := logBuf.String()
	require.Equal(t, len(tokens), strings.Count(logs, "\n"), logs)
	require.Contains(t, logs, `"level":"DEBUG"`)
	require.Contains(t, logs, `"level":"INFO"`) // the 503
	require.Contains(t, logs, "[REDACTED]")
	require.Contains(t, logs, `"path":"/path"`)
	require.Len(t, failures, len(tokens))
	for i, tt := range tokens {
		require.Equal(t, tt.status, failures[i].status)
		if tt.sentinel != nil {
			require.ErrorIs(t, failures[i].err, tt.sentinel)
		}
		for _, secret := range []string{tt.token, "cXVlcnktdG9rZW4"} {
			if secret == "" {
				continue
			}
			require.NotContains(t, failures[i].err.Error(), secret)
			// Also the token without its stub prefix.
			_, body, _ := strings.Cut(secret, ".")
			require.NotContains(t, logs, secret)
			if body != "" {
				require.NotContains(t, logs, body)
				require.NotContains(t, failures[i].err.Error(), body)
			}
		}
	}
}

type syncWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestMiddlewareContext checks that the handler gets the request context of
// the client (values kept) plus the identity, and the verifier gets the
// request context.
func TestMiddlewareContext(t *testing.T) {
	type key struct{}
	var verifierSawValue bool
	v := identity.VerifierFunc(func(ctx context.Context, tok string) (*identity.Identity, error) {
		verifierSawValue = ctx.Value(key{}) == "v"
		return identity.Identity{Subject: "alice"}.WithToken(tok), nil
	})
	var handlerID *identity.Identity
	var handlerSawValue bool
	h := identity.Middleware(v, identity.MiddlewareConfig{})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerID, _ = identity.FromContext(r.Context())
		handlerSawValue = r.Context().Value(key{}) == "v"
	}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, "v")))
	}))
	defer srv.Close()
	got := do(t, srv, http.MethodPost, "/", "Authorization", "Bearer tok-123")
	require.Equal(t, http.StatusOK, got.status)
	require.True(t, verifierSawValue)
	require.True(t, handlerSawValue)
	require.NotNil(t, handlerID)
	require.Equal(t, "alice", handlerID.Subject)
	require.Equal(t, "tok-123", handlerID.Token())
}

func TestMiddlewareNilNext(t *testing.T) {
	mw := identity.Middleware(stubVerifier(), identity.MiddlewareConfig{})
	require.Panics(t, func() { mw(nil) })
}

// TestMiddlewareSuccessAllocations bounds the allocations the middleware
// adds on the success path: the request copy and context that carry the
// identity, nothing else.
func TestMiddlewareSuccessAllocations(t *testing.T) {
	id := identity.Identity{Subject: "alice"}.WithToken("tok")
	v := identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) { return id, nil })
	h := identity.Middleware(v, identity.MiddlewareConfig{ResourceMetadata: prm})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.Header.Set("Authorization", "Bearer tok")
	w := httptest.NewRecorder()
	allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	require.LessOrEqual(t, allocs, 2.0) // the context value and the request copy
}

func BenchmarkMiddleware(b *testing.B) {
	id := identity.Identity{Subject: "alice", Scopes: scopes.Of("crm:read")}.WithToken("tok")
	cached := identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) { return id, nil })
	failing := identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) {
		return nil, fmt.Errorf("stub: %w", identity.ErrExpired)
	})
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	cfg := identity.MiddlewareConfig{ResourceMetadata: prm, Scopes: []string{"crm:read", "notes"}}
	bench := func(b *testing.B, v identity.Verifier, header string) {
		h := identity.Middleware(v, cfg)(next)
		r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
	}
	b.Run("admitted", func(b *testing.B) { bench(b, cached, "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln") })
	b.Run("no-token", func(b *testing.B) { bench(b, cached, "") })
	b.Run("invalid-token", func(b *testing.B) { bench(b, failing, "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln") })
}

// TestMiddlewareInsufficientScopeNamesScopes: a Verifier may refuse a
// token for its scopes with a *scopes.InsufficientScopeError (Describe
// answers it with 403). SPEC 10: the 403 challenge names every scope the
// operation needs, so that the client knows what to re-authorize for; it
// used to carry no scope parameter at all.
func TestMiddlewareInsufficientScopeNamesScopes(t *testing.T) {
	base := scopes.All("mcp:use", "crm:read")
	v := identity.VerifierFunc(func(_ context.Context, tok string) (*identity.Identity, error) {
		granted := map[string]string{"reader": "crm:read", "user": "crm:read mcp:use"}[tok]
		id := identity.Identity{Subject: "alice", Scopes: scopes.Parse(granted)}.WithToken(tok)
		if err := base.Check(id.Scopes, nil); err != nil {
			return nil, fmt.Errorf("verifier: %w", err)
		}
		return id, nil
	})
	srv := httptest.NewServer(identity.Middleware(v, identity.MiddlewareConfig{
		ResourceMetadata: prm,
		Realm:            "api",
		Scopes:           []string{"mcp:use", "crm:read", "notes"},
	})(echoIdentity()))
	defer srv.Close()

	got := do(t, srv, http.MethodPost, "/", "Authorization", "Bearer reader")
	require.Equal(t, http.StatusForbidden, got.status)
	require.Equal(t, errorBody("insufficient_scope", "insufficient scope"), got.body)
	require.Equal(t, []string{`Bearer realm="api", resource_metadata="` + prm + `", scope="crm:read mcp:use", error="insufficient_scope", error_description="insufficient scope"`}, got.challenges)

	// A scope that is not a scope token never reaches the header.
	bad := identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) {
		return nil, &scopes.InsufficientScopeError{Required: []string{"ok", "a\"b", "c d", ""}}
	})
	srv2 := httptest.NewServer(identity.Middleware(bad, identity.MiddlewareConfig{ResourceMetadata: prm})(echoIdentity()))
	defer srv2.Close()
	got = do(t, srv2, http.MethodGet, "/", "Authorization", "Bearer x")
	require.Equal(t, http.StatusForbidden, got.status)
	require.Equal(t, []string{`Bearer resource_metadata="` + prm + `", scope="ok", error="insufficient_scope", error_description="insufficient scope"`}, got.challenges)

	got = do(t, srv, http.MethodGet, "/", "Authorization", "Bearer user")
	require.Equal(t, http.StatusOK, got.status)
}
