package identity_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// A challenge as an MCP server sends it when a request has no token: the
// client learns where the protected-resource metadata is and which scopes to
// ask for.
func ExampleChallenge_String() {
	c := identity.Challenge{
		ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		Scope:            []string{"crm:read", "notes"},
	}
	fmt.Println(c.String())

	// A step-up challenge, with a description that needs escaping.
	c.Error = identity.ErrorCodeInsufficientScope
	c.ErrorDescription = `tool "salesSummary" needs crm:read`
	fmt.Println(c.String())
	// Output:
	// Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="crm:read notes"
	// Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="crm:read notes", error="insufficient_scope", error_description="tool \"salesSummary\" needs crm:read"
}

// A client reads the challenges of a 401 or 403 to find the metadata URL and
// the scopes to request.
func ExampleParseChallenges() {
	header := `Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="crm:read crm:write", error="insufficient_scope", Basic realm="legacy"`
	challenges, err := identity.ParseChallenges(header)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range challenges {
		fmt.Printf("%s %q %q %q\n", c.Scheme, c.Error, c.ResourceMetadata, c.Scope)
	}
	// Output:
	// Bearer "insufficient_scope" "https://mcp.example.com/.well-known/oauth-protected-resource/mcp" ["crm:read" "crm:write"]
	// Basic "" "" []
}

// Describe gives the status and the short, fixed texts to answer a failed
// verification with; the error's own text (which may hold internal details)
// is for the log only.
func ExampleDescribe() {
	err := fmt.Errorf("jwt: exp 1700000000 before now: %w", identity.ErrExpired)
	status, code, description := identity.Describe(err)
	fmt.Println(status, code, description)
	// Output:
	// 401 invalid_token token expired
}

// Opaque tokens are checked by asking the authorization server (RFC 7662).
// Here a test issuer plays the authorization server.
func ExampleNewIntrospectionVerifier() {
	iss, err := identitytest.StartIssuer()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()

	clientID, secret := iss.ClientCredentials()
	v, err := identity.NewIntrospectionVerifier(identity.IntrospectionConfig{
		Endpoint:     iss.IntrospectionURL(),
		ClientID:     clientID,
		ClientSecret: secret,
		Issuer:       iss.URL(),
		Audiences:    []string{"https://mcp.example.com/mcp"},
	})
	if err != nil {
		log.Fatal(err)
	}

	tok := iss.MintOpaqueToken(identitytest.Subject("alice"), identitytest.Scopes("crm:read"))
	id, err := v.Verify(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id.Subject, id.Scopes)

	revoked := iss.MintOpaqueToken()
	iss.Revoke(revoked)
	_, err = v.Verify(context.Background(), revoked)
	fmt.Println(errors.Is(err, identity.ErrInactive))
	// Output:
	// alice crm:read
	// true
}
