package identitytest_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
)

// The whole code flow, a Go test acting as the browser, for each way a
// client authenticates; the token verifies with identity's JWT verifier.
func TestAuthorizationCodeFlow(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{
		Users: []identitytest.User{
			{Username: "alice", Subject: "auth0|alice-1", Email: "alice@example.com", Name: "Alice"},
			{Username: "carol"},
		},
		Clients: []identitytest.RegisteredClient{
			{ID: "cli", RedirectURIs: []string{redirectURI}},
			{ID: "web", Secret: "s3cret/+=", RedirectURIs: []string{redirectURI}},
			{ID: "web-post", Secret: "other", AuthMethod: "client_secret_post", RedirectURIs: []string{redirectURI}},
		},
		AccessTokenLifetime: 10 * time.Minute,
	})
	v := verifier(t, iss)
	cases := []struct {
		name      string
		client    client
		user      string
		tick      []string // nil: as the page ticks them
		wantSub   string
		wantScope []string
		wantEmail string
		wantName  string
	}{
		{"dynamic public client", registerClient(t, iss, "none"), "alice", nil, "auth0|alice-1", testScopes, "alice@example.com", "Alice"},
		{"dynamic client_secret_basic", registerClient(t, iss, "client_secret_basic"), "alice", []string{"starter.notes"}, "auth0|alice-1", []string{"starter.notes"}, "alice@example.com", "Alice"},
		{"dynamic client_secret_post", registerClient(t, iss, "client_secret_post"), "carol", nil, "carol", testScopes, "", ""},
		{"configured public client", client{id: "cli", method: "none"}, "carol", []string{"starter.crm", "starter.whoami"}, "carol", []string{"starter.whoami", "starter.crm"}, "", ""},
		{"configured client_secret_basic", client{id: "web", secret: "s3cret/+=", method: "client_secret_basic"}, "alice", nil, "auth0|alice-1", testScopes, "alice@example.com", "Alice"},
		{"configured client_secret_post", client{id: "web-post", secret: "other", method: "client_secret_post"}, "alice", nil, "auth0|alice-1", testScopes, "alice@example.com", "Alice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			codeVerifier, challenge := pkce()
			code := signIn(t, iss, authorizeURL(iss, tc.client.id, challenge, nil), tc.user, tc.tick...)
			status, answer := tokenRequest(t, iss, tc.client, codeForm(code, codeVerifier))
			require.Equal(t, http.StatusOK, status, answer)
			require.Equal(t, "Bearer", answer["token_type"])
			require.Equal(t, float64(600), answer["expires_in"])
			require.Equal(t, strings.Join(tc.wantScope, " "), answer["scope"])
			require.NotEmpty(t, answer["refresh_token"])

			id, err := v.Verify(context.Background(), answer["access_token"].(string))
			require.NoError(t, err)
			require.Equal(t, tc.wantSub, id.Subject)
			require.Equal(t, iss.URL(), id.Issuer)
			require.Equal(t, []string{mcpURL}, id.Audience)
			require.ElementsMatch(t, tc.wantScope, id.Scopes.List())
			require.Equal(t, tc.client.id, id.ClientID)
			require.Equal(t, tc.wantEmail, id.Email)
			require.Equal(t, tc.wantName, id.Name)
			require.WithinDuration(t, time.Now().Add(10*time.Minute), id.ExpiresAt, 5*time.Second)
			require.NotEmpty(t, id.TokenID)
		})
	}
}

// The token's audience is the requested resource, or the issuer's audience
// when none is requested.
func TestAuthorizationCodeAudience(t *testing.T) {
	other := "https://api.example.com/v1"
	iss := newDevIssuer(t, identitytest.AuthServerConfig{Resources: []string{mcpURL, other}})
	c := registerClient(t, iss, "none")
	for name, tc := range map[string]struct {
		resource []string
		want     string
	}{
		"requested":  {[]string{other}, other},
		"default":    {nil, mcpURL},
		"mcp server": {[]string{mcpURL}, mcpURL},
	} {
		t.Run(name, func(t *testing.T) {
			codeVerifier, challenge := pkce()
			code := signIn(t, iss, authorizeURL(iss, c.id, challenge, url.Values{"resource": tc.resource}), "bob")
			form := codeForm(code, codeVerifier)
			form["resource"] = tc.resource
			status, answer := tokenRequest(t, iss, c, form)
			require.Equal(t, http.StatusOK, status, answer)
			_, claims := parse(t, iss, answer["access_token"].(string))
			require.Equal(t, tc.want, claims["aud"])
			tok, _, err := jwt.NewParser().ParseUnverified(answer["access_token"].(string), jwt.MapClaims{})
			require.NoError(t, err)
			require.Equal(t, "at+jwt", tok.Header["typ"])
		})
	}
}

func TestAuthorizationCodeErrors(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	public := registerClient(t, iss, "none")
	basic := registerClient(t, iss, "client_secret_basic")
	post := registerClient(t, iss, "client_secret_post")
	wrongVerifier, _ := pkce()
	cases := []struct {
		name       string
		owner      client // the client the code is issued to
		as         client // the client that redeems it
		form       func(f url.Values, challenge string)
		wantStatus int
		wantError  string
	}{
		{"wrong verifier", public, public, func(f url.Values, _ string) { f.Set("code_verifier", wrongVerifier) }, 400, "invalid_grant"},
		{"verifier of the wrong shape", public, public, func(f url.Values, _ string) { f.Set("code_verifier", "short") }, 400, "invalid_grant"},
		{"verifier is the challenge", public, public, func(f url.Values, challenge string) { f.Set("code_verifier", challenge) }, 400, "invalid_grant"},
		{"no verifier", public, public, func(f url.Values, _ string) { f.Del("code_verifier") }, 400, "invalid_request"},
		{"other redirect uri", public, public, func(f url.Values, _ string) { f.Set("redirect_uri", "http://127.0.0.1:7777/other") }, 400, "invalid_grant"},
		{"no redirect uri", public, public, func(f url.Values, _ string) { f.Del("redirect_uri") }, 400, "invalid_grant"},
		{"other resource", public, public, func(f url.Values, _ string) { f.Set("resource", "https://other.example/mcp") }, 400, "invalid_target"},
		{"unknown code", public, public, func(f url.Values, _ string) { f.Set("code", "nope") }, 400, "invalid_grant"},
		{"no code", public, public, func(f url.Values, _ string) { f.Del("code") }, 400, "invalid_request"},
		{"repeated code", public, public, func(f url.Values, _ string) { f.Add("code", "nope") }, 400, "invalid_request"},
		{"code of another client", public, post, nil, 400, "invalid_grant"},
		{"unknown client", public, client{id: "nope", method: "none"}, nil, 401, "invalid_client"},
		{"no client", public, client{id: "", method: "none"}, nil, 401, "invalid_client"},
		{"wrong secret", basic, client{id: basic.id, secret: "wrong", method: "client_secret_basic"}, nil, 401, "invalid_client"},
		{"basic client authenticating by post", basic, client{id: basic.id, secret: basic.secret, method: "client_secret_post"}, nil, 401, "invalid_client"},
		{"post client authenticating by basic", post, client{id: post.id, secret: post.secret, method: "client_secret_basic"}, nil, 401, "invalid_client"},
		{"confidential client without secret", post, client{id: post.id, method: "none"}, nil, 401, "invalid_client"},
		{"public client with a secret", public, client{id: public.id, secret: "x", method: "client_secret_post"}, nil, 401, "invalid_client"},
		{"two authentication methods", basic, basic, func(f url.Values, _ string) { f.Set("client_secret", basic.secret) }, 400, "invalid_request"},
		{"unsupported grant", public, public, func(f url.Values, _ string) { f.Set("grant_type", "password") }, 400, "unsupported_grant_type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			codeVerifier, challenge := pkce()
			code := signIn(t, iss, authorizeURL(iss, tc.owner.id, challenge, nil), "alice")
			form := codeForm(code, codeVerifier)
			if tc.form != nil {
				tc.form(form, challenge)
			}
			status, answer := tokenRequest(t, iss, tc.as, form)
			require.Equal(t, tc.wantStatus, status, answer)
			require.Equal(t, tc.wantError, answer["error"])
			require.NotEmpty(t, answer["error_description"])
			require.NotContains(t, answer, "access_token")
		})
	}
}

// A code works once. The second request fails and revokes what the first
// got; a failed first attempt uses the code up too.
func TestAuthorizationCodeReplay(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	c := registerClient(t, iss, "none")

	codeVerifier, challenge := pkce()
	code := signIn(t, iss, authorizeURL(iss, c.id, challenge, nil), "alice")
	status, first := tokenRequest(t, iss, c, codeForm(code, codeVerifier))
	require.Equal(t, http.StatusOK, status, first)
	require.Equal(t, true, introspect(t, iss, first["access_token"].(string))["active"])

	status, again := tokenRequest(t, iss, c, codeForm(code, codeVerifier))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", again["error"])
	require.Equal(t, false, introspect(t, iss, first["access_token"].(string))["active"], "the replay revokes the access token")
	status, refreshed := tokenRequest(t, iss, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first["refresh_token"].(string)}})
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", refreshed["error"], "the replay revokes the refresh token")

	codeVerifier, challenge = pkce()
	code = signIn(t, iss, authorizeURL(iss, c.id, challenge, nil), "alice")
	wrong, _ := pkce()
	status, _ = tokenRequest(t, iss, c, codeForm(code, wrong))
	require.Equal(t, http.StatusBadRequest, status)
	status, answer := tokenRequest(t, iss, c, codeForm(code, codeVerifier))
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", answer["error"])
}

// introspect asks the issuer about token with its own client credentials.
func introspect(t *testing.T, iss *identitytest.Issuer, token string) map[string]any {
	t.Helper()
	status, body := postForm(t, iss, iss.IntrospectionURL(), url.Values{"token": {token}}, false)
	require.Equal(t, http.StatusOK, status)
	return body
}

func TestRefreshTokenRotation(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	c := registerClient(t, iss, "client_secret_post")
	other := registerClient(t, iss, "none")
	v := verifier(t, iss)

	codeVerifier, challenge := pkce()
	code := signIn(t, iss, authorizeURL(iss, c.id, challenge, nil), "bob")
	status, tokens := tokenRequest(t, iss, c, codeForm(code, codeVerifier))
	require.Equal(t, http.StatusOK, status, tokens)
	first := tokens["refresh_token"].(string)

	refresh := func(rt string, extra url.Values, as client) (int, map[string]any) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		for k, vs := range extra {
			form[k] = vs
		}
		return tokenRequest(t, iss, as, form)
	}

	// Refused requests leave the token usable.
	for name, tc := range map[string]struct {
		extra     url.Values
		as        client
		status    int
		wantError string
	}{
		"scope not granted":  {url.Values{"scope": {"starter.notes admin"}}, c, 400, "invalid_scope"},
		"other resource":     {url.Values{"resource": {"https://other.example/mcp"}}, c, 400, "invalid_target"},
		"another client":     {nil, other, 400, "invalid_grant"},
		"unauthenticated":    {nil, client{id: c.id, method: "none"}, 401, "invalid_client"},
		"unknown token":      {url.Values{"refresh_token": {"rt_nope"}}, c, 400, "invalid_grant"},
		"no token":           {url.Values{"refresh_token": {""}}, c, 400, "invalid_request"},
		"repeated parameter": {url.Values{"scope": {"a", "b"}}, c, 400, "invalid_request"},
	} {
		t.Run(name, func(t *testing.T) {
			status, answer := refresh(first, tc.extra, tc.as)
			require.Equal(t, tc.status, status, answer)
			require.Equal(t, tc.wantError, answer["error"])
		})
	}

	// Rotation: a new pair, same user and audience, all scopes.
	status, second := refresh(first, url.Values{"resource": {mcpURL}}, c)
	require.Equal(t, http.StatusOK, status, second)
	require.NotEqual(t, first, second["refresh_token"])
	require.Equal(t, strings.Join(testScopes, " "), second["scope"])
	id, err := v.Verify(context.Background(), second["access_token"].(string))
	require.NoError(t, err)
	require.Equal(t, "bob", id.Subject)
	require.Equal(t, c.id, id.ClientID)

	// Narrowed: the access token has fewer scopes, the next refresh token all.
	status, third := refresh(second["refresh_token"].(string), url.Values{"scope": {"starter.notes"}}, c)
	require.Equal(t, http.StatusOK, status, third)
	require.Equal(t, "starter.notes", third["scope"])
	id, err = v.Verify(context.Background(), third["access_token"].(string))
	require.NoError(t, err)
	require.Equal(t, []string{"starter.notes"}, id.Scopes.List())
	status, fourth := refresh(third["refresh_token"].(string), nil, c)
	require.Equal(t, http.StatusOK, status, fourth)
	require.Equal(t, strings.Join(testScopes, " "), fourth["scope"])

	// Reuse of a rotated token: refused, and the family is revoked.
	status, reused := refresh(first, nil, c)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", reused["error"])
	status, latest := refresh(fourth["refresh_token"].(string), nil, c)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "invalid_grant", latest["error"])
}

// A client that did not register the refresh_token grant gets none.
func TestNoRefreshTokenWithoutGrant(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	status, answer := register(t, iss, map[string]any{"redirect_uris": []string{redirectURI}, "token_endpoint_auth_method": "none"})
	require.Equal(t, http.StatusCreated, status)
	c := client{id: answer["client_id"].(string), method: "none"}
	codeVerifier, challenge := pkce()
	code := signIn(t, iss, authorizeURL(iss, c.id, challenge, nil), "alice")
	status, tokens := tokenRequest(t, iss, c, codeForm(code, codeVerifier))
	require.Equal(t, http.StatusOK, status, tokens)
	require.NotContains(t, tokens, "refresh_token")
}

// Token exchange still works beside the new grants, with the issuer's own
// client.
func TestTokenExchangeWithAuthorizationServer(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	subject := iss.Mint(t, identitytest.Subject("alice"), identitytest.Scopes("starter.notes"))
	status, body := postForm(t, iss, iss.TokenURL(), url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {subject},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
		"audience":           {"https://backend.example.com"},
	}, false)
	require.Equal(t, http.StatusOK, status, body)
	status, body = postForm(t, iss, iss.TokenURL(), url.Values{"grant_type": {"client_credentials"}}, false)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, "unsupported_grant_type", body["error"])
}

// Many sign-ins, registrations and redemptions at once; and one code
// redeemed by several requests at once gives at most one token, which is
// then revoked. Parallel subtests are the concurrent callers.
func TestAuthorizationServerConcurrency(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	const n = 16
	t.Run("flows", func(t *testing.T) {
		for k := range n {
			user := []string{"alice", "bob"}[k%2]
			t.Run(fmt.Sprint(k), func(t *testing.T) {
				t.Parallel()
				c := registerClient(t, iss, "none")
				codeVerifier, challenge := pkce()
				code := signIn(t, iss, authorizeURL(iss, c.id, challenge, nil), user)
				status, answer := tokenRequest(t, iss, c, codeForm(code, codeVerifier))
				require.Equal(t, http.StatusOK, status, answer)
				_, claims := parse(t, iss, answer["access_token"].(string))
				require.Equal(t, user, claims["sub"])
			})
		}
	})

	c := registerClient(t, iss, "none")
	codeVerifier, challenge := pkce()
	code := signIn(t, iss, authorizeURL(iss, c.id, challenge, nil), "alice")
	var mu sync.Mutex
	var won []map[string]any
	t.Run("one code", func(t *testing.T) {
		for k := range n {
			t.Run(fmt.Sprint(k), func(t *testing.T) {
				t.Parallel()
				status, answer := tokenRequest(t, iss, c, codeForm(code, codeVerifier))
				if status != http.StatusOK {
					require.Equal(t, "invalid_grant", answer["error"])
					return
				}
				mu.Lock()
				won = append(won, answer)
				mu.Unlock()
			})
		}
	})
	require.LessOrEqual(t, len(won), 1)
	for _, w := range won {
		require.Equal(t, false, introspect(t, iss, w["access_token"].(string))["active"])
		status, answer := tokenRequest(t, iss, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w["refresh_token"].(string)}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Equal(t, "invalid_grant", answer["error"])
	}
}

// Under an issuer path with a trailing slash (as Auth0 and multi-tenant
// providers write issuers) the endpoints move under the path and "iss"
// carries the issuer exactly.
func TestAuthorizationServerUnderIssuerPath(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{}, identitytest.WithIssuerPath("/tenant"), identitytest.WithTrailingSlash())
	require.True(t, strings.HasSuffix(iss.URL(), "/tenant/"))
	var md map[string]any
	require.Equal(t, http.StatusOK, getJSON(t, iss.AuthorizationServerMetadataURL(), &md))
	require.Equal(t, iss.URL(), md["issuer"])
	require.Equal(t, strings.TrimSuffix(iss.URL(), "/")+"/authorize", md["authorization_endpoint"])
	require.Equal(t, strings.TrimSuffix(iss.URL(), "/")+"/register", md["registration_endpoint"])

	c := registerClient(t, iss, "none")
	codeVerifier, challenge := pkce()
	code := signIn(t, iss, authorizeURL(iss, c.id, challenge, nil), "alice")
	status, answer := tokenRequest(t, iss, c, codeForm(code, codeVerifier))
	require.Equal(t, http.StatusOK, status, answer)
	id, err := verifier(t, iss).Verify(context.Background(), answer["access_token"].(string))
	require.NoError(t, err)
	require.Equal(t, iss.URL(), id.Issuer)
}

// Forms posted to the token endpoint and the sign-in form are bounded.
func TestFormBodiesBounded(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	big := url.Values{"grant_type": {"authorization_code"}, "code": {strings.Repeat("x", 100<<10)}}.Encode()
	resp, err := http.Post(iss.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(big))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	resp, err = noRedirects().Post(iss.AuthorizationURL(), "application/x-www-form-urlencoded", strings.NewReader(big))
	require.NoError(t, err)
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, string(page), "Malformed sign-in form.")
}
