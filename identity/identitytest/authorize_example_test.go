package identitytest_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strings"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// A development authorization server: a client sends the browser to the
// sign-in page, a person (here SignIn) picks a demo user and the scopes to
// grant, and the client redeems the code with its PKCE verifier for an
// access token whose audience is the requested resource. A development
// server would add WithAddr("127.0.0.1:3001") for a stable issuer URL.
func ExampleWithAuthorizationServer() {
	const mcpURL = "https://mcp.example.com/mcp"
	const callback = "http://127.0.0.1:8080/callback"
	iss, err := identitytest.StartIssuer(
		identitytest.WithAudience(mcpURL),
		identitytest.WithAuthorizationServer(identitytest.AuthServerConfig{
			Scopes:    []string{"notes:read", "notes:write"},
			Resources: []string{mcpURL},
			Clients:   []identitytest.RegisteredClient{{ID: "my-cli", RedirectURIs: []string{callback}}},
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	ctx := context.Background()

	// The client's authorization request, with PKCE S256.
	verifier := "a-long-random-code-verifier-of-43-characters-or-more"
	sum := sha256.Sum256([]byte(verifier))
	authURL := iss.AuthorizationURL() + "?" + url.Values{
		"response_type":         {"code"},
		"client_id":             {"my-cli"},
		"redirect_uri":          {callback},
		"scope":                 {"notes:read notes:write"},
		"resource":              {mcpURL},
		"state":                 {"xyz"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}.Encode()

	// Alice signs in and grants one of the two scopes.
	back, err := identitytest.SignIn(ctx, nil, authURL, "alice", "notes:read")
	if err != nil {
		log.Fatal(err)
	}

	// The client redeems the code.
	resp, err := http.PostForm(iss.TokenURL(), url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {"my-cli"},
		"code":          {back.Query().Get("code")},
		"code_verifier": {verifier},
		"redirect_uri":  {callback},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var tokens struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tokens); err != nil {
		log.Fatal(err)
	}

	// The MCP server verifies the token.
	v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{Issuer: iss.URL(), Audiences: []string{mcpURL}, RequireType: "at+jwt"})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	id, err := v.Verify(ctx, tokens.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.Query().Get("state"), back.Query().Get("iss") == iss.URL())
	fmt.Println(id.Subject, id.Email, id.Scopes, strings.Join(id.Audience, " "), id.ClientID)
	fmt.Println(tokens.RefreshToken != "")
	// Output:
	// xyz true
	// alice alice@example.com notes:read https://mcp.example.com/mcp my-cli
	// true
}
