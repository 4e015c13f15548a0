package identitytest_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
)

func TestAuthorizationServerMetadata(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	for _, u := range []string{iss.AuthorizationServerMetadataURL(), iss.OpenIDConfigurationURL()} {
		var md map[string]any
		require.Equal(t, http.StatusOK, getJSON(t, u, &md), u)
		require.Equal(t, iss.URL(), md["issuer"])
		require.Equal(t, iss.AuthorizationURL(), md["authorization_endpoint"])
		require.Equal(t, iss.TokenURL(), md["token_endpoint"])
		require.Equal(t, iss.RegistrationURL(), md["registration_endpoint"])
		require.Equal(t, iss.JWKSURL(), md["jwks_uri"])
		require.Equal(t, []any{"S256"}, md["code_challenge_methods_supported"])
		require.Equal(t, []any{"code"}, md["response_types_supported"])
		require.Equal(t, []any{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:token-exchange"}, md["grant_types_supported"])
		require.Equal(t, []any{"none", "client_secret_basic", "client_secret_post"}, md["token_endpoint_auth_methods_supported"])
		require.Equal(t, []any{"starter.whoami", "starter.notes", "starter.crm"}, md["scopes_supported"])
		require.Equal(t, true, md["authorization_response_iss_parameter_supported"])
		require.NotContains(t, md, "client_id_metadata_document_supported")
	}

	// Any scope: scopes_supported is omitted.
	open := newDevIssuer(t, identitytest.AuthServerConfig{Scopes: []string{}})
	var md map[string]any
	require.Equal(t, http.StatusOK, getJSON(t, open.AuthorizationServerMetadataURL(), &md))
	require.NotContains(t, md, "scopes_supported")
}

// Browser-based clients (the MCP Inspector) call the metadata, registration
// and token endpoints from another origin.
func TestAuthorizationServerCORS(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	for _, u := range []string{iss.AuthorizationServerMetadataURL(), iss.OpenIDConfigurationURL(), iss.RegistrationURL(), iss.TokenURL(), iss.JWKSURL()} {
		req, err := http.NewRequest(http.MethodOptions, u, nil)
		require.NoError(t, err)
		req.Header.Set("Origin", "http://localhost:6274")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,mcp-protocol-version")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNoContent, resp.StatusCode, u)
		require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "MCP-Protocol-Version")
	}
	resp, err := http.Get(iss.AuthorizationServerMetadataURL())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))

	// The sign-in page is for top-level navigation only.
	req, err := http.NewRequest(http.MethodOptions, iss.AuthorizationURL(), nil)
	require.NoError(t, err)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestAuthorizeRequestErrors(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	c := registerClient(t, iss, "none")
	_, challenge := pkce()
	cases := []struct {
		name      string
		clientID  string
		extra     url.Values
		wantPage  int    // status of an error page (never a redirect); 0: a redirect or the sign-in page
		wantText  string // on the error page
		wantError string // in the redirect; "": the sign-in page
	}{
		{"valid", c.id, nil, 0, "", ""},
		{"loopback redirect on another port", c.id, url.Values{"redirect_uri": {"http://127.0.0.1:50123/callback"}}, 0, "", ""},

		{"unknown client", "nope", nil, 400, "Unknown client", ""},
		{"no client", "", url.Values{"client_id": {}}, 400, "names no client", ""},
		{"repeated client", c.id, url.Values{"client_id": {c.id, c.id}}, 400, "names no client", ""},
		{"unregistered redirect uri", c.id, url.Values{"redirect_uri": {"http://127.0.0.1:7777/other"}}, 400, "not registered", ""},
		{"foreign redirect uri", c.id, url.Values{"redirect_uri": {"https://evil.example/callback"}}, 400, "not registered", ""},
		{"redirect uri with fragment", c.id, url.Values{"redirect_uri": {redirectURI + "#x"}}, 400, "not registered", ""},
		{"localhost is not an ip literal", c.id, url.Values{"redirect_uri": {"http://localhost:7777/callback"}}, 400, "not registered", ""},
		{"no redirect uri", c.id, url.Values{"redirect_uri": {}}, 400, "no redirect_uri", ""},

		{"implicit flow", c.id, url.Values{"response_type": {"token"}}, 0, "", "unsupported_response_type"},
		{"no response type", c.id, url.Values{"response_type": {}}, 0, "", "unsupported_response_type"},
		{"no pkce", c.id, url.Values{"code_challenge": {}, "code_challenge_method": {}}, 0, "", "invalid_request"},
		{"plain pkce", c.id, url.Values{"code_challenge_method": {"plain"}}, 0, "", "invalid_request"},
		{"pkce method missing", c.id, url.Values{"code_challenge_method": {}}, 0, "", "invalid_request"},
		{"short challenge", c.id, url.Values{"code_challenge": {"abc"}}, 0, "", "invalid_request"},
		{"repeated challenge", c.id, url.Values{"code_challenge": {challenge, challenge}}, 0, "", "invalid_request"},
		{"unknown resource", c.id, url.Values{"resource": {"https://other.example/mcp"}}, 0, "", "invalid_target"},
		{"resource with fragment", c.id, url.Values{"resource": {mcpURL + "#x"}}, 0, "", "invalid_target"},
		{"two resources", c.id, url.Values{"resource": {mcpURL, mcpURL}}, 0, "", "invalid_target"},
		{"invalid scope token", c.id, url.Values{"scope": {`starter.notes a"b`}}, 0, "", "invalid_scope"},
		{"too many scopes", c.id, url.Values{"scope": {strings.Repeat("s ", 65)}}, 0, "", "invalid_scope"},
		// Kept for the sign-in's life, so bounded; a state too long to keep
		// is not sent back either.
		{"state too long", c.id, url.Values{"state": {strings.Repeat("s", 1025)}}, 400, "state is longer than 1024 bytes", ""},
		{"resource too long", c.id, url.Values{"resource": {mcpURL + "/" + strings.Repeat("r", 2000)}}, 0, "", "invalid_target"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := noRedirects().Get(authorizeURL(iss, tc.clientID, challenge, tc.extra))
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
			switch {
			case tc.wantPage != 0:
				require.Equal(t, tc.wantPage, resp.StatusCode)
				require.Empty(t, resp.Header.Get("Location"), "an error page never redirects")
				require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
				require.Contains(t, string(body), tc.wantText)
				require.Contains(t, string(body), "not for production")
			case tc.wantError != "":
				require.Equal(t, http.StatusFound, resp.StatusCode)
				loc, err := resp.Location()
				require.NoError(t, err)
				require.True(t, strings.HasPrefix(loc.String(), redirectURI+"?"), loc.String())
				q := loc.Query()
				require.Equal(t, tc.wantError, q.Get("error"))
				require.NotEmpty(t, q.Get("error_description"))
				require.Equal(t, "st-123", q.Get("state"))
				require.Equal(t, iss.URL(), q.Get("iss"))
				require.Empty(t, q.Get("code"))
			default:
				require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
				require.Contains(t, string(body), `name="csrf"`)
			}
		})
	}
}

// TestAuthorizeErrorsOfOpenlyRegisteredClients: anyone may register a
// client, so a redirect URI of a registered client that is not on this
// machine is not trusted with an immediate redirect: a malformed request
// for it gets the error page, lest the server be an open redirector (RFC
// 9700 §4.11.2). A configured client, or a loopback redirect URI (see
// TestAuthorizeRequestErrors), still gets the redirect.
func TestAuthorizeErrorsOfOpenlyRegisteredClients(t *testing.T) {
	const foreign = "https://attacker.example/landing"
	iss := newDevIssuer(t, identitytest.AuthServerConfig{
		Clients: []identitytest.RegisteredClient{{ID: "configured", RedirectURIs: []string{foreign}}},
	})
	status, answer := register(t, iss, map[string]any{"redirect_uris": []string{foreign}, "token_endpoint_auth_method": "none"})
	require.Equal(t, http.StatusCreated, status, answer)
	get := func(clientID string) *http.Response {
		resp, err := noRedirects().Get(iss.AuthorizationURL() + "?" + url.Values{
			"client_id": {clientID}, "redirect_uri": {foreign}, "response_type": {"token"}, "state": {"st"},
		}.Encode())
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	resp := get(answer["client_id"].(string))
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Empty(t, resp.Header.Get("Location"), "no redirect to a URI anyone could register")

	resp = get("configured")
	require.Equal(t, http.StatusFound, resp.StatusCode)
	require.True(t, strings.HasPrefix(resp.Header.Get("Location"), foreign+"?"), resp.Header.Get("Location"))

	// A valid request still reaches the sign-in page, whose decision the
	// person makes: its answer goes to the client, as before.
	_, challenge := pkce()
	resp, err := noRedirects().Get(iss.AuthorizationURL() + "?" + url.Values{
		"client_id": {answer["client_id"].(string)}, "redirect_uri": {foreign}, "response_type": {"code"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}.Encode())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

// TestDNSRebindingRefused: the server answers loopback host names only, so
// a web page whose own name resolves to 127.0.0.1 (DNS rebinding) cannot
// read the sign-in page and post it as a same-origin page.
func TestDNSRebindingRefused(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	c := registerClient(t, iss, "none")
	_, challenge := pkce()
	origin, err := url.Parse(iss.URL())
	require.NoError(t, err)
	for _, host := range []string{"rebind.attacker.example:" + origin.Port(), "rebind.attacker.example", "127.0.0.1.nip.io:" + origin.Port()} {
		req, err := http.NewRequest(http.MethodGet, authorizeURL(iss, c.id, challenge, nil), nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := noRedirects().Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusMisdirectedRequest, resp.StatusCode, host)
		require.NotContains(t, string(body), `name="csrf"`)
	}
	for _, host := range []string{"127.0.0.1:" + origin.Port(), "localhost:" + origin.Port(), "LOCALHOST", "[::1]:" + origin.Port()} {
		req, err := http.NewRequest(http.MethodGet, authorizeURL(iss, c.id, challenge, nil), nil)
		require.NoError(t, err)
		req.Host = host
		resp, err := noRedirects().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, host)
	}
}

func TestSignInPage(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	c := registerClient(t, iss, "none")
	_, challenge := pkce()
	resp, err := http.Get(authorizeURL(iss, c.id, challenge, url.Values{"scope": {"starter.notes offline_access starter.crm openid"}}))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	page := string(b)

	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	require.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))

	require.Contains(t, page, "Development sign-in — not for production")
	require.Contains(t, page, "Sign in to Test client")
	require.Contains(t, page, `<input type="radio" name="user" value="alice" checked>`)
	require.Contains(t, page, `<input type="radio" name="user" value="bob">`)
	require.Contains(t, page, "bob@example.com")
	require.Contains(t, page, `<input type="checkbox" name="scope" value="starter.notes" checked>`)
	require.Contains(t, page, `<input type="checkbox" name="scope" value="starter.crm" checked>`)
	require.NotContains(t, page, `value="starter.whoami"`, "not requested")
	require.NotContains(t, page, `value="offline_access"`, "unknown scopes are not offered")
	require.Contains(t, page, "Not offered (unknown to this server): <code>offline_access</code>, <code>openid</code>")
	require.Contains(t, page, "<code>"+mcpURL+"</code>")
	require.Contains(t, page, `<button type="submit" name="action" value="deny"`)
}

// Client-supplied text (client_name, scopes, state) is escaped, never
// markup.
func TestSignInPageEscapes(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{Scopes: []string{}}) // any scope
	status, answer := register(t, iss, map[string]any{
		"redirect_uris":              []string{redirectURI},
		"token_endpoint_auth_method": "none",
		"client_name":                `<script>alert("name")</script>`,
	})
	require.Equal(t, http.StatusCreated, status)
	clientID := answer["client_id"].(string)
	verifierStr, challenge := pkce()
	evilScope := `<img/src=x/onerror=alert(1)>`
	authURL := authorizeURL(iss, clientID, challenge, url.Values{"scope": {evilScope + " ok'scope"}, "state": {`"><script>alert(2)</script>`}})

	resp, err := http.Get(authURL)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	page := string(b)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotContains(t, page, "<script>")
	require.NotContains(t, page, "<img")
	require.Contains(t, page, "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt;")
	require.Contains(t, page, `value="&lt;img/src=x/onerror=alert(1)&gt;"`)
	require.Contains(t, page, `value="ok&#39;scope"`)
	require.NotContains(t, page, "alert(2)", "state is not shown")

	// The escaped values post back as they were requested.
	loc, err := identitytest.SignIn(context.Background(), nil, authURL, "bob")
	require.NoError(t, err)
	require.Equal(t, `"><script>alert(2)</script>`, loc.Query().Get("state"))
	f := codeForm(loc.Query().Get("code"), verifierStr)
	status, tok := tokenRequest(t, iss, client{id: clientID, method: "none"}, f)
	require.Equal(t, http.StatusOK, status, tok)
	require.Equal(t, evilScope+" ok'scope", tok["scope"])
}

func TestSignInForm(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	c := registerClient(t, iss, "none")
	// page opens a fresh sign-in page and returns its CSRF token and the
	// request's PKCE verifier.
	page := func(t *testing.T) (csrf, verifier string) {
		verifier, challenge := pkce()
		resp, err := http.Get(authorizeURL(iss, c.id, challenge, nil))
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		_, rest, ok := strings.Cut(string(b), `<input type="hidden" name="csrf" value="`)
		require.True(t, ok)
		csrf, _, _ = strings.Cut(rest, `"`)
		return csrf, verifier
	}
	used, _ := page(t)
	_, err := postSignIn(t, iss, url.Values{"csrf": {used}, "user": {"alice"}}, nil)
	require.NoError(t, err)

	cases := []struct {
		name      string
		form      func(csrf string) url.Values
		header    http.Header
		wantPage  int    // error page status; 0: a redirect
		wantError string // in the redirect; "": a code
		wantScope string // of the token, on success
	}{
		{"approve, all ticked", func(csrf string) url.Values {
			return url.Values{"csrf": {csrf}, "user": {"bob"}, "scope": testScopes, "action": {"approve"}}
		}, nil, 0, "", strings.Join(testScopes, " ")},
		{"no action field approves", func(csrf string) url.Values {
			return url.Values{"csrf": {csrf}, "user": {"bob"}, "scope": {"starter.crm"}}
		}, nil, 0, "", "starter.crm"},
		{"space-separated scope field", func(csrf string) url.Values {
			return url.Values{"csrf": {csrf}, "user": {"bob"}, "scope": {"starter.crm starter.whoami"}}
		}, nil, 0, "", "starter.whoami starter.crm"},
		{"nothing ticked", func(csrf string) url.Values { return url.Values{"csrf": {csrf}, "user": {"alice"}} }, nil, 0, "", ""},
		{"deny", func(csrf string) url.Values { return url.Values{"csrf": {csrf}, "action": {"deny"}} }, nil, 0, "access_denied", ""},

		{"unknown csrf", func(string) url.Values { return url.Values{"csrf": {"nope"}, "user": {"alice"}} }, nil, 400, "", ""},
		{"no csrf", func(string) url.Values { return url.Values{"user": {"alice"}} }, nil, 400, "", ""},
		{"csrf already used", func(string) url.Values { return url.Values{"csrf": {used}, "user": {"alice"}} }, nil, 400, "", ""},
		{"unknown user", func(csrf string) url.Values { return url.Values{"csrf": {csrf}, "user": {"mallory"}} }, nil, 400, "", ""},
		{"no user", func(csrf string) url.Values { return url.Values{"csrf": {csrf}} }, nil, 400, "", ""},
		{"scope not requested", func(csrf string) url.Values {
			return url.Values{"csrf": {csrf}, "user": {"alice"}, "scope": {"admin"}}
		}, nil, 400, "", ""},
		{"cross-site post", func(csrf string) url.Values { return url.Values{"csrf": {csrf}, "user": {"alice"}} },
			http.Header{"Sec-Fetch-Site": {"cross-site"}}, 403, "", ""},
		{"foreign origin", func(csrf string) url.Values { return url.Values{"csrf": {csrf}, "user": {"alice"}} },
			http.Header{"Origin": {"https://evil.example"}}, 403, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			csrf, verifier := page(t)
			resp, err := postSignIn(t, iss, tc.form(csrf), tc.header)
			if tc.wantPage != 0 {
				require.ErrorContains(t, err, fmt.Sprintf("status %d", tc.wantPage))
				return
			}
			require.NoError(t, err)
			q := resp.Query()
			require.Equal(t, iss.URL(), q.Get("iss"))
			require.Equal(t, "st-123", q.Get("state"))
			if tc.wantError != "" {
				require.Equal(t, tc.wantError, q.Get("error"))
				require.Empty(t, q.Get("code"))
				return
			}
			status, tok := tokenRequest(t, iss, c, codeForm(q.Get("code"), verifier))
			require.Equal(t, http.StatusOK, status, tok)
			if tc.wantScope == "" {
				require.NotContains(t, tok, "scope")
			} else {
				require.Equal(t, tc.wantScope, tok["scope"])
			}
		})
	}
}

// postSignIn posts the sign-in form and returns the redirect, or an error
// naming the status of an error page.
func postSignIn(t *testing.T, iss *identitytest.Issuer, form url.Values, header http.Header) (*url.URL, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, iss.AuthorizationURL(), strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirects().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.Location()
}

func TestSignInHelperErrors(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	c := registerClient(t, iss, "none")
	_, challenge := pkce()
	ctx := context.Background()

	_, err := identitytest.SignIn(ctx, nil, authorizeURL(iss, c.id, challenge, nil), "mallory")
	require.ErrorContains(t, err, "Choose one of the demo users")

	_, err = identitytest.SignIn(ctx, nil, authorizeURL(iss, c.id, challenge, url.Values{"redirect_uri": {"https://evil.example/cb"}}), "alice")
	require.ErrorContains(t, err, "not registered for the client")

	_, err = identitytest.SignIn(ctx, nil, iss.JWKSURL(), "alice")
	require.ErrorContains(t, err, "did not answer with the development sign-in page")

	// A request refused before the page comes back as the client's redirect.
	loc, err := identitytest.SignIn(ctx, nil, authorizeURL(iss, c.id, challenge, url.Values{"code_challenge_method": {"plain"}}), "alice")
	require.NoError(t, err)
	require.Equal(t, "invalid_request", loc.Query().Get("error"))
}

func TestStartIssuerRejectsBadAuthServerConfig(t *testing.T) {
	cases := map[string]identitytest.AuthServerConfig{
		"user without username":   {Users: []identitytest.User{{Subject: "x"}}},
		"duplicate user":          {Users: []identitytest.User{{Username: "a"}, {Username: "a"}}},
		"bad scope":               {Scopes: []string{"a b"}},
		"relative resource":       {Resources: []string{"/mcp"}},
		"resource fragment":       {Resources: []string{"https://a.example/mcp#x"}},
		"negative lifetime":       {AccessTokenLifetime: -1},
		"negative max clients":    {MaxClients: -1},
		"client without id":       {Clients: []identitytest.RegisteredClient{{RedirectURIs: []string{redirectURI}}}},
		"client without uris":     {Clients: []identitytest.RegisteredClient{{ID: "c"}}},
		"client bad uri":          {Clients: []identitytest.RegisteredClient{{ID: "c", RedirectURIs: []string{"http://example.com/cb"}}}},
		"client method no secret": {Clients: []identitytest.RegisteredClient{{ID: "c", RedirectURIs: []string{redirectURI}, AuthMethod: "client_secret_post"}}},
		"client bad method":       {Clients: []identitytest.RegisteredClient{{ID: "c", Secret: "s", RedirectURIs: []string{redirectURI}, AuthMethod: "none"}}},
		"duplicate client": {Clients: []identitytest.RegisteredClient{
			{ID: "c", RedirectURIs: []string{redirectURI}}, {ID: "c", RedirectURIs: []string{redirectURI}}}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			iss, err := identitytest.StartIssuer(identitytest.WithAuthorizationServer(cfg))
			require.ErrorContains(t, err, "authorization server")
			require.Nil(t, iss)
		})
	}
}

func TestListenAddress(t *testing.T) {
	// A free port, then an issuer on it: the URL names it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	iss := identitytest.NewIssuer(t, identitytest.WithAddr(addr), identitytest.WithAuthorizationServer(identitytest.AuthServerConfig{}))
	require.Equal(t, "http://"+addr, iss.URL())
	var md map[string]any
	require.Equal(t, http.StatusOK, getJSON(t, iss.AuthorizationServerMetadataURL(), &md))
	require.Equal(t, "http://"+addr+"/authorize", md["authorization_endpoint"])

	l, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	iss = identitytest.NewIssuer(t, identitytest.WithListener(l))
	require.Equal(t, "http://"+l.Addr().String(), iss.URL())
	require.Equal(t, http.StatusOK, getJSON(t, iss.JWKSURL(), nil))

	iss = identitytest.NewIssuer(t, identitytest.WithAddr("localhost:0"))
	require.True(t, strings.HasPrefix(iss.URL(), "http://127.0.0.1:") || strings.HasPrefix(iss.URL(), "http://[::1]:"), iss.URL())

	public, err := net.Listen("tcp", "0.0.0.0:0")
	require.NoError(t, err)
	defer public.Close()
	loopback, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer loopback.Close()
	for name, opts := range map[string][]identitytest.IssuerOption{
		"all interfaces":    {identitytest.WithAddr(":0")},
		"unspecified ipv4":  {identitytest.WithAddr("0.0.0.0:0")},
		"public ip":         {identitytest.WithAddr("192.0.2.10:3001")},
		"host name":         {identitytest.WithAddr("example.com:3001")},
		"no port":           {identitytest.WithAddr("127.0.0.1")},
		"public listener":   {identitytest.WithListener(public)},
		"addr and listener": {identitytest.WithAddr("127.0.0.1:0"), identitytest.WithListener(loopback)},
	} {
		t.Run(name, func(t *testing.T) {
			iss, err := identitytest.StartIssuer(opts...)
			require.Error(t, err)
			require.Nil(t, iss)
		})
	}
}
