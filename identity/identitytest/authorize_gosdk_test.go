package identitytest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/modelcontextprotocol/go-sdk/oauthex"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

type whoami struct {
	Subject string   `json:"subject"`
	Scopes  []string `json:"scopes"`
}

// The go-sdk's own OAuth client (auth.AuthorizationCodeHandler: RFC 9728
// discovery, RFC 8414 metadata, dynamic client registration, PKCE, RFC 9207
// iss check, RFC 8707 resource) signs in against the dev authorization
// server, a person "clicking" the sign-in page by SignIn, and calls a tool
// of an MCP server that verifies the token with package identity.
func TestGoSDKClientSignsIn(t *testing.T) {
	for _, method := range []string{"none", "client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			ctx := context.Background()
			mux := http.NewServeMux()
			rs := httptest.NewServer(mux)
			t.Cleanup(rs.Close)
			resource := rs.URL + "/mcp"
			prm := rs.URL + "/.well-known/oauth-protected-resource/mcp"

			iss := identitytest.NewIssuer(t, identitytest.WithAudience(resource), identitytest.WithAuthorizationServer(identitytest.AuthServerConfig{
				Scopes:    testScopes,
				Resources: []string{resource},
			}))
			v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{Issuer: iss.URL(), Audiences: []string{resource}, RequireType: "at+jwt"})
			require.NoError(t, err)
			t.Cleanup(v.Close)

			server := mcp.NewServer(&mcp.Implementation{Name: "whoami-server", Version: "1"}, nil)
			mcp.AddTool(server, &mcp.Tool{Name: "whoami"}, func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, whoami, error) {
				ti := req.Extra.TokenInfo
				return nil, whoami{Subject: ti.UserID, Scopes: ti.Scopes}, nil
			})
			verify := func(ctx context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
				id, err := v.Verify(ctx, token)
				if err != nil {
					return nil, fmt.Errorf("%w: %w", auth.ErrInvalidToken, err)
				}
				return &auth.TokenInfo{Scopes: id.Scopes.List(), Expiration: id.ExpiresAt, UserID: id.Subject}, nil
			}
			mux.Handle("/.well-known/oauth-protected-resource/mcp", auth.ProtectedResourceMetadataHandler(&oauthex.ProtectedResourceMetadata{
				Resource:               resource,
				AuthorizationServers:   []string{iss.URL()},
				ScopesSupported:        []string{"starter.whoami", "starter.notes"},
				BearerMethodsSupported: []string{"header"},
			}))
			mux.Handle("/mcp", auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{ResourceMetadataURL: prm})(
				mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))

			var signIns int
			handler, err := auth.NewAuthorizationCodeHandler(&auth.AuthorizationCodeHandlerConfig{
				DynamicClientRegistrationConfig: &auth.DynamicClientRegistrationConfig{
					Metadata: &oauthex.ClientRegistrationMetadata{
						RedirectURIs:            []string{"http://127.0.0.1:49152/callback"},
						TokenEndpointAuthMethod: method,
						GrantTypes:              []string{"authorization_code", "refresh_token"},
						ClientName:              "go-sdk test client",
					},
				},
				AuthorizationCodeFetcher: func(ctx context.Context, args *auth.AuthorizationArgs) (*auth.AuthorizationResult, error) {
					signIns++
					loc, err := identitytest.SignIn(ctx, nil, args.URL, "bob")
					if err != nil {
						return nil, err
					}
					q := loc.Query()
					if e := q.Get("error"); e != "" {
						return nil, errors.New(e)
					}
					return &auth.AuthorizationResult{Code: q.Get("code"), State: q.Get("state"), Iss: q.Get("iss")}, nil
				},
			})
			require.NoError(t, err)

			client := mcp.NewClient(&mcp.Implementation{Name: "go-sdk-client", Version: "1"}, nil)
			session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: resource, OAuthHandler: handler}, nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = session.Close() })
			res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
			require.NoError(t, err)
			require.False(t, res.IsError)
			got, ok := res.StructuredContent.(map[string]any)
			require.True(t, ok, "%T", res.StructuredContent)
			require.Equal(t, "bob", got["subject"])
			require.Equal(t, []any{"starter.notes", "starter.whoami"}, got["scopes"])
			require.Equal(t, 1, signIns)
			require.Equal(t, 1, iss.Requests("/register"))
		})
	}
}
