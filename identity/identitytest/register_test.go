package identitytest_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
)

func TestRegister(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	uris := func(u ...string) map[string]any {
		return map[string]any{"redirect_uris": u, "token_endpoint_auth_method": "none"}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	cases := []struct {
		name       string
		metadata   any
		wantStatus int
		wantError  string
		wantMethod string // registered token_endpoint_auth_method
		wantSecret bool
	}{
		{"public loopback ip", uris("http://127.0.0.1:7777/callback"), 201, "", "none", false},
		{"public localhost", uris("http://localhost:7777/callback"), 201, "", "none", false},
		{"public ipv6 loopback", uris("http://[::1]:7777/callback"), 201, "", "none", false},
		{"https", uris("https://app.example.com/oauth/callback"), 201, "", "none", false},
		{"private-use scheme", uris("com.example.app:/oauth2redirect"), 201, "", "none", false},
		{"several uris", uris("https://app.example.com/cb", "http://127.0.0.1/cb"), 201, "", "none", false},
		{"default method is client_secret_basic", map[string]any{"redirect_uris": []string{"https://app.example.com/cb"}}, 201, "", "client_secret_basic", true},
		{"client_secret_post", with(uris("https://app.example.com/cb"), "token_endpoint_auth_method", "client_secret_post"), 201, "", "client_secret_post", true},
		{"unknown members ignored", with(uris("https://app.example.com/cb"), "software_statement", "eyJ..."), 201, "", "none", false},

		{"no redirect uris", map[string]any{"client_name": "x"}, 400, "invalid_redirect_uri", "", false},
		{"http on a public host", uris("http://app.example.com/cb"), 400, "invalid_redirect_uri", "", false},
		{"fragment", uris("https://app.example.com/cb#frag"), 400, "invalid_redirect_uri", "", false},
		{"empty fragment", uris("https://app.example.com/cb#"), 400, "invalid_redirect_uri", "", false},
		{"relative", uris("/callback"), 400, "invalid_redirect_uri", "", false},
		{"javascript", uris("javascript:alert(1)"), 400, "invalid_redirect_uri", "", false},
		{"data", uris("data:text/html,hi"), 400, "invalid_redirect_uri", "", false},
		{"user info", uris("https://user:pw@app.example.com/cb"), 400, "invalid_redirect_uri", "", false},
		{"too long", uris("https://app.example.com/" + strings.Repeat("a", 2100)), 400, "invalid_redirect_uri", "", false},
		{"unsupported auth method", with(uris("https://app.example.com/cb"), "token_endpoint_auth_method", "private_key_jwt"), 400, "invalid_client_metadata", "", false},
		{"unsupported grant", with(uris("https://app.example.com/cb"), "grant_types", []string{"client_credentials"}), 400, "invalid_client_metadata", "", false},
		{"no authorization_code grant", with(uris("https://app.example.com/cb"), "grant_types", []string{"refresh_token"}), 400, "invalid_client_metadata", "", false},
		{"implicit response type", with(uris("https://app.example.com/cb"), "response_types", []string{"token"}), 400, "invalid_client_metadata", "", false},
		{"javascript logo", with(uris("https://app.example.com/cb"), "logo_uri", "javascript:alert(1)"), 400, "invalid_client_metadata", "", false},
		{"long client name", with(uris("https://app.example.com/cb"), "client_name", strings.Repeat("n", 300)), 400, "invalid_client_metadata", "", false},
		{"bad scope", with(uris("https://app.example.com/cb"), "scope", `a"b`), 400, "invalid_client_metadata", "", false},
		{"bad application type", with(uris("https://app.example.com/cb"), "application_type", "service"), 400, "invalid_client_metadata", "", false},
		{"redirect uris not a list", `{"redirect_uris":"https://app.example.com/cb"}`, 400, "invalid_client_metadata", "", false},
		{"not json", `redirect_uris=https://app.example.com/cb`, 400, "invalid_client_metadata", "", false},
		{"too large", `{"client_name":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "invalid_client_metadata", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, answer := register(t, iss, tc.metadata)
			require.Equal(t, tc.wantStatus, status, answer)
			if tc.wantError != "" {
				require.Equal(t, tc.wantError, answer["error"])
				require.NotEmpty(t, answer["error_description"])
				return
			}
			require.NotEmpty(t, answer["client_id"])
			require.NotZero(t, answer["client_id_issued_at"])
			require.Equal(t, tc.wantMethod, answer["token_endpoint_auth_method"])
			require.Equal(t, []any{"code"}, answer["response_types"])
			require.Equal(t, []any{"authorization_code"}, answer["grant_types"])
			require.NotEmpty(t, answer["redirect_uris"])
			require.NotContains(t, answer, "software_statement")
			if tc.wantSecret {
				require.NotEmpty(t, answer["client_secret"])
				require.Equal(t, float64(0), answer["client_secret_expires_at"])
			} else {
				require.NotContains(t, answer, "client_secret")
				require.NotContains(t, answer, "client_secret_expires_at")
			}
		})
	}
}

func TestRegisterWrongContentType(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{})
	resp, err := http.Post(iss.RegistrationURL(), "text/plain", strings.NewReader(`{"redirect_uris":["https://a.example/cb"]}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
}

// Registrations beyond MaxClients forget the oldest; configured clients stay.
func TestRegisterEvictsOldest(t *testing.T) {
	iss := newDevIssuer(t, identitytest.AuthServerConfig{
		MaxClients: 2,
		Clients:    []identitytest.RegisteredClient{{ID: "configured", RedirectURIs: []string{redirectURI}}},
	})
	first := registerClient(t, iss, "none")
	second := registerClient(t, iss, "none")
	third := registerClient(t, iss, "none")
	_, challenge := pkce()
	for id, known := range map[string]bool{first.id: false, second.id: true, third.id: true, "configured": true} {
		resp, err := noRedirects().Get(authorizeURL(iss, id, challenge, nil))
		require.NoError(t, err)
		resp.Body.Close()
		if known {
			require.Equal(t, http.StatusOK, resp.StatusCode, id)
		} else {
			require.Equal(t, http.StatusBadRequest, resp.StatusCode, id)
		}
	}
	_, err := identitytest.SignIn(context.Background(), nil, authorizeURL(iss, first.id, challenge, nil), "alice")
	require.ErrorContains(t, err, "Unknown client")
}

// Without WithAuthorizationServer the issuer serves none of it.
func TestNoAuthorizationServerByDefault(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	resp, err := http.Post(iss.RegistrationURL(), "application/json", strings.NewReader(`{"redirect_uris":["https://a.example/cb"]}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, err = http.Get(iss.AuthorizationURL())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	var md map[string]any
	require.Equal(t, http.StatusOK, getJSON(t, iss.AuthorizationServerMetadataURL(), &md))
	for _, k := range []string{"authorization_endpoint", "registration_endpoint", "code_challenge_methods_supported", "response_types_supported"} {
		require.NotContains(t, md, k)
	}
}
