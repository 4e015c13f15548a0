package demoapi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// The backend verifies the tokens of one issuer (in the starter, the
// gateway's signer) and serves the tools under wherever it is mounted.
func Example() {
	ctx := context.Background()
	iss, err := identitytest.StartIssuer() // stands in for the gateway
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{Issuer: iss.URL(), Audiences: []string{iss.Audience()}})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	dir, err := os.MkdirTemp("", "demoapi")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	s, err := store.OpenSQLite(ctx, filepath.Join(dir, "crm.sqlite"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	backend, err := demoapi.New(demoapi.Config{
		Verifier: v,
		Store:    s,
		PIISalt:  []byte("a long, random and secret salt"),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/demo/", http.StripPrefix("/demo", backend))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	tok, err := iss.MintToken(identitytest.Subject("alice"), identitytest.Scopes(demoapi.ScopeEcho))
	if err != nil {
		log.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/demo/echo", strings.NewReader(`{"message":"hi"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output: 200 {"ok":true,"message":"hi","summary":"Echo: hi"}
}
