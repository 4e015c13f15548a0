package identity_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// urlSecret is the password in the user info of the URLs below: Go's
// http.Client sends it as HTTP Basic credentials, and masks it ("***")
// in the errors it returns itself.
const urlSecret = "url-password-s3cr3t-9f8e7d"

// failingEndpoint returns the URL, with urlSecret in its user info, of a
// server that fails with a 500 (after checking those credentials, if
// checkAuth).
func failingEndpoint(t *testing.T, path string, checkAuth bool) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); checkAuth && (!ok || user != "keys" || pass != urlSecret) {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		http.Error(w, "upstream down", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL + path)
	require.NoError(t, err)
	u.User = url.UserPassword("keys", urlSecret)
	return u.String()
}

// refusalLog serves one request with token through identity.Middleware in
// front of v, and returns what its Logger and OnFailure saw.
func refusalLog(t *testing.T, v identity.Verifier, token string) string {
	t.Helper()
	var mu sync.Mutex
	var out bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(lockedBuffer{&mu, &out}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(identity.Middleware(v, identity.MiddlewareConfig{
		Logger: logger,
		OnFailure: func(_ *http.Request, _ int, err error) {
			mu.Lock()
			defer mu.Unlock()
			out.WriteString("on_failure: " + err.Error() + "\n")
		},
	})(echoIdentity()))
	defer srv.Close()
	got := do(t, srv, http.MethodPost, "/", "Authorization", "Bearer "+token)
	require.Equal(t, http.StatusServiceUnavailable, got.status)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, out.String(), "on_failure: ", "the refusal was reported")
	return out.String()
}

type lockedBuffer struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (b lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// A JWKS URL may carry HTTP Basic credentials in its user info (Go's
// client sends them): when the fetch fails, the password must not reach
// the middleware's log line or OnFailure through the verifier's error.
func TestJWKSURLPasswordNotInErrors(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{iss.Audience()},
		JWKSURL:   failingEndpoint(t, "/jwks", true),
	})
	require.NoError(t, err)
	t.Cleanup(v.Close)

	logged := refusalLog(t, v, iss.Mint(t, identitytest.Subject("alice")))
	require.Contains(t, logged, "status 500", "the fetch error is logged")
	require.Contains(t, logged, "keys:***@", "the URL is shown, its password masked")
	require.NotContains(t, logged, urlSecret)

	// And the constructor's error for a URL it refuses (plain http to a
	// host that is not loopback).
	_, err = identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{iss.Audience()},
		JWKSURL:   "http://keys:" + urlSecret + "@keys.example.com/jwks",
	})
	require.Error(t, err)
	require.NotContains(t, err.Error(), urlSecret)
}

// So for the introspection endpoint (whose requests carry the client's
// own credentials, so the URL's are not sent).
func TestIntrospectionEndpointPasswordNotInErrors(t *testing.T) {
	cfg := identity.IntrospectionConfig{
		Endpoint:     failingEndpoint(t, "/introspect", false),
		ClientID:     "rs",
		ClientSecret: "rs-secret",
		Issuer:       "https://idp.example.com",
		Audiences:    []string{"https://mcp.example.com/mcp"},
	}
	v := newIntrospectionVerifier(t, cfg)
	logged := refusalLog(t, v, "opaque-token-abc")
	require.Contains(t, logged, "status 500", "the introspection error is logged")
	require.NotContains(t, logged, urlSecret)

	// And the constructor's error for an endpoint it refuses.
	cfg.Endpoint = strings.Replace(cfg.Endpoint, "127.0.0.1", "idp.example.com", 1)
	_, err := identity.NewIntrospectionVerifier(cfg)
	require.Error(t, err)
	require.NotContains(t, err.Error(), urlSecret)
}

// A URL that does not parse is refused by the constructors, and that
// refusal must not quote its password either: url.Parse's own error holds
// the whole URL, and a password with a raw "%" (not written as "%25") or a
// bad port are typing slips a configuration makes.
func TestUnparsableURLPasswordNotInErrors(t *testing.T) {
	for _, bad := range []string{
		"https://keys:" + urlSecret + "%zz@idp.example.com/jwks",  // raw "%" in the password
		"https://keys:" + urlSecret + "@idp.example.com:44x/jwks", // bad port
		"https://keys:" + urlSecret + "/x@idp.example.com/jwks",   // raw "/" in the password
	} {
		_, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
			Issuer:    "https://idp.example.com",
			Audiences: []string{"https://mcp.example.com/mcp"},
			JWKSURL:   bad,
		})
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), urlSecret, "JWKSURL")
		require.Contains(t, err.Error(), "keys:***@", "the URL is still shown, masked")

		_, err = identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
			Issuer:    bad,
			Audiences: []string{"https://mcp.example.com/mcp"},
		})
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), urlSecret, "Issuer")

		_, err = identity.NewIntrospectionVerifier(identity.IntrospectionConfig{
			Endpoint:     bad,
			ClientID:     "rs",
			ClientSecret: "rs-secret",
			Issuer:       "https://idp.example.com",
			Audiences:    []string{"https://mcp.example.com/mcp"},
		})
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), urlSecret, "Endpoint")
		require.Contains(t, err.Error(), "keys:***@", "the URL is still shown, masked")
	}
}
