package identitytest_test

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/url"
	"strings"

	"github.com/idgate/idgate/identity/identitytest"
)

// An Issuer mints tokens and answers for them like a real authorization
// server. In a test, prefer NewIssuer(t), which closes it at the end.
func Example() {
	iss, err := identitytest.StartIssuer(identitytest.WithAudience("https://api.example.com/mcp"))
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()

	tok, err := iss.MintToken(identitytest.Subject("alice"), identitytest.Scopes("crm:read"))
	if err != nil {
		log.Fatal(err)
	}

	// Ask the introspection endpoint about the token, as a resource server
	// would (a JWT verifier would instead fetch iss.JWKSURL()).
	req, err := http.NewRequest(http.MethodPost, iss.IntrospectionURL(),
		strings.NewReader(url.Values{"token": {tok}}.Encode()))
	if err != nil {
		log.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(iss.ClientCredentials())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Active bool   `json:"active"`
		Sub    string `json:"sub"`
		Scope  string `json:"scope"`
		Aud    string `json:"aud"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		log.Fatal(err)
	}
	fmt.Println(answer.Active, answer.Sub, answer.Scope, answer.Aud)
	// Output: true alice crm:read https://api.example.com/mcp
}
