package identity_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

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

// Protecting a plain net/http service (no MCP): a reports endpoint that
// serves each user their own reports. A test issuer stands in for the
// authorization server.
func ExampleMiddleware() {
	iss, err := identitytest.StartIssuer()
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()

	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{"https://mcp.example.com/mcp"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	reports := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := identity.FromContext(r.Context()) // always there behind the middleware
		fmt.Fprintf(w, "reports of %s (scopes %s)", id.Subject, id.Scopes)
	})
	mux := http.NewServeMux()
	mux.Handle("/reports/", identity.Middleware(v, identity.MiddlewareConfig{
		ResourceMetadata: "https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
		Scopes:           []string{"reports:read"},
	})(reports))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(token string) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/reports/q4", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		fmt.Println(res.StatusCode, strings.TrimSpace(string(body)))
		if c := res.Header.Get("WWW-Authenticate"); c != "" {
			fmt.Println("  WWW-Authenticate:", c)
		}
	}
	mint := func(opts ...identitytest.TokenOption) string {
		tok, err := iss.MintToken(opts...)
		if err != nil {
			log.Fatal(err)
		}
		return tok
	}
	get("")
	get(mint(identitytest.Subject("alice"), identitytest.Scopes("reports:read")))
	get(mint(identitytest.Subject("alice"), identitytest.ExpiresIn(-time.Hour)))
	// Output:
	// 401 {"error":"unauthorized","error_description":"missing bearer token"}
	//   WWW-Authenticate: Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="reports:read"
	// 200 reports of alice (scopes reports:read)
	// 401 {"error":"invalid_token","error_description":"token expired"}
	//   WWW-Authenticate: Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", scope="reports:read", error="invalid_token", error_description="token expired"
}
