package identity_test

import (
	"context"
	"fmt"
	"log"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// A JWTVerifier for one issuer and one audience. Here the issuer is a test
// one; in production Issuer is the authorization server's issuer
// identifier, and the JWKS URL is discovered from it.
func ExampleNewJWTVerifier() {
	iss, err := identitytest.StartIssuer(identitytest.WithAudience("https://api.example.com/mcp"))
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()

	ctx := context.Background()
	v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{
		Issuer:    iss.URL(),
		Audiences: []string{"https://api.example.com/mcp"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	tok, err := iss.MintToken(identitytest.Subject("alice"), identitytest.Scopes("crm:read", "notes"))
	if err != nil {
		log.Fatal(err)
	}
	id, err := v.Verify(ctx, tok)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(id.Subject, id.Scopes)

	// A token for another resource is refused; the error says why and
	// wraps a sentinel error to test with errors.Is.
	other, err := iss.MintToken(identitytest.Audience("https://other.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	_, err = v.Verify(ctx, other)
	fmt.Println(err)
	// Output:
	// alice crm:read notes
	// token audience not accepted: aud names none of the accepted audiences
}
