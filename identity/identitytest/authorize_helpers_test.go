package identitytest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// The MCP server of the tests, and its scopes.
const (
	mcpURL      = "https://mcp.example.com/mcp"
	redirectURI = "http://127.0.0.1:7777/callback"
)

var testScopes = []string{"starter.whoami", "starter.notes", "starter.crm"}

// newDevIssuer starts an issuer with the dev authorization server, serving
// mcpURL and testScopes unless cfg says otherwise.
func newDevIssuer(t *testing.T, cfg identitytest.AuthServerConfig, opts ...identitytest.IssuerOption) *identitytest.Issuer {
	t.Helper()
	if cfg.Scopes == nil {
		cfg.Scopes = testScopes
	}
	if cfg.Resources == nil {
		cfg.Resources = []string{mcpURL}
	}
	opts = append([]identitytest.IssuerOption{identitytest.WithAudience(mcpURL), identitytest.WithAuthorizationServer(cfg)}, opts...)
	return identitytest.NewIssuer(t, opts...)
}

// noRedirects is a client that returns redirects instead of following them.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// register posts client metadata (JSON-encoded unless a string) and returns
// the status and decoded answer.
func register(t *testing.T, iss *identitytest.Issuer, metadata any) (int, map[string]any) {
	t.Helper()
	body, ok := metadata.(string)
	if !ok {
		b, err := json.Marshal(metadata)
		require.NoError(t, err)
		body = string(b)
	}
	resp, err := http.Post(iss.RegistrationURL(), "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var answer map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
	return resp.StatusCode, answer
}

// client is a registered client as the tests use it.
type client struct {
	id, secret, method string
}

// registerPublic registers a public client with redirectURI and the
// refresh_token grant.
func registerClient(t *testing.T, iss *identitytest.Issuer, method string) client {
	t.Helper()
	status, answer := register(t, iss, map[string]any{
		"redirect_uris":              []string{redirectURI},
		"token_endpoint_auth_method": method,
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"client_name":                "Test client",
	})
	require.Equal(t, http.StatusCreated, status, answer)
	c := client{id: answer["client_id"].(string), method: method}
	if s, ok := answer["client_secret"].(string); ok {
		c.secret = s
	}
	return c
}

// pkce returns a fresh code verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = rand.Text() + rand.Text() // 52 characters
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL builds an authorization request for c; extra parameters
// override or (with an empty value list) remove the defaults.
func authorizeURL(iss *identitytest.Issuer, clientID, challenge string, extra url.Values) string {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {clientID},
		"redirect_uri":          {redirectURI},
		"code_challenge":        {challenge},
		"code_challenge_method": {"S256"},
		"state":                 {"st-123"},
		"scope":                 {strings.Join(testScopes, " ")},
		"resource":              {mcpURL},
	}
	for k, v := range extra {
		if len(v) == 0 {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	return iss.AuthorizationURL() + "?" + q.Encode()
}

// signIn completes the sign-in page and returns the code, checking state
// and iss.
func signIn(t *testing.T, iss *identitytest.Issuer, authURL, user string, scopes ...string) string {
	t.Helper()
	loc, err := identitytest.SignIn(context.Background(), nil, authURL, user, scopes...)
	require.NoError(t, err)
	q := loc.Query()
	require.Empty(t, q.Get("error"), q.Get("error_description"))
	require.Equal(t, "st-123", q.Get("state"))
	require.Equal(t, iss.URL(), q.Get("iss"))
	require.NotEmpty(t, q.Get("code"))
	return q.Get("code")
}

// tokenRequest posts form to the token endpoint as c would authenticate,
// and returns the status and decoded answer.
func tokenRequest(t *testing.T, iss *identitytest.Issuer, c client, form url.Values) (int, map[string]any) {
	t.Helper()
	form = cloneValues(form)
	req, err := http.NewRequest(http.MethodPost, iss.TokenURL(), nil)
	require.NoError(t, err)
	switch c.method {
	case "client_secret_basic":
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	case "client_secret_post":
		form.Set("client_id", c.id)
		form.Set("client_secret", c.secret)
	default:
		form.Set("client_id", c.id)
	}
	req.Body = io.NopCloser(bytes.NewReader([]byte(form.Encode())))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var answer map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&answer))
	return resp.StatusCode, answer
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// codeForm is the token request that redeems code.
func codeForm(code, verifier string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"code_verifier": {verifier},
		"redirect_uri":  {redirectURI},
		"resource":      {mcpURL},
	}
}

// verifier returns the identity package's JWT verifier for iss's tokens
// for mcpURL, requiring "typ" at+jwt.
func verifier(t *testing.T, iss *identitytest.Issuer) *identity.JWTVerifier {
	t.Helper()
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:      iss.URL(),
		Audiences:   []string{mcpURL},
		RequireType: "at+jwt",
	})
	require.NoError(t, err)
	t.Cleanup(v.Close)
	return v
}
