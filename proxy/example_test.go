package proxy_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
	"github.com/idgate/idgate/scopes"
)

// A tool handler calls the user's CRM backend with the user's own token,
// which names the backend as an audience, and reads the backend's error
// when it refuses.
func Example() {
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/deals/someone-else" {
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"ok":false,"error":"cross_user_access_denied"}`)
			return
		}
		io.WriteString(w, `{"deals_won":5,"revenue_cents":150000}`)
	}))
	defer crm.Close()

	backend, err := proxy.New(proxy.Config{
		BaseURL:    crm.URL + "/api/",
		Credential: proxy.Forward("https://crm.example.com/"),
	})
	if err != nil {
		log.Fatal(err)
	}

	// In a handler behind identity.Middleware: id, _ := identity.FromContext(ctx).
	id := identity.Identity{
		Subject:  "alice",
		Audience: []string{"https://mcp.example.com/mcp", "https://crm.example.com/"},
	}.WithToken("eyJ...")
	ctx := context.Background()

	var summary struct {
		DealsWon     int   `json:"deals_won"`
		RevenueCents int64 `json:"revenue_cents"`
	}
	if err := backend.Do(ctx, id, http.MethodGet, "sales/summary?year=2025&quarter=2", nil, &summary); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d deals, $%d\n", summary.DealsWon, summary.RevenueCents/100)

	err = backend.Do(ctx, id, http.MethodGet, "deals/someone-else", nil, nil)
	var be *proxy.Error
	if errors.As(err, &be) {
		fmt.Println(be.Status, string(be.Body))
	}

	err = backend.Do(ctx, id, http.MethodGet, "../admin", nil, nil)
	fmt.Println(errors.Is(err, proxy.ErrBadPath))
	// Output:
	// 5 deals, $1500
	// 403 {"ok":false,"error":"cross_user_access_denied"}
	// true
}

// The gateway signs a short-lived token for a backend that does not accept
// the user's token. The backend verifies it against the Signer's JWKS, for
// example with identity.NewJWTVerifier and JWKSURL set to where
// JWKSHandler is served.
func ExampleNewSigner() {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := proxy.NewSigner(proxy.SignerConfig{
		Issuer:     "https://gateway.example.com",
		Audience:   "https://notes.internal.example.com",
		Key:        key,
		KeyID:      "gateway-2026-01",
		CopyClaims: []string{"email"},
		Scopes:     []string{"notes:read", "notes:write"}, // the most it passes on
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/jwks.json", signer.JWKSHandler())

	var jwks struct {
		Keys []struct{ Kty, Crv, Alg, Kid string } `json:"keys"`
	}
	if err := json.Unmarshal(signer.JWKS(), &jwks); err != nil {
		log.Fatal(err)
	}
	k := jwks.Keys[0]
	fmt.Println(k.Kty, k.Crv, k.Alg, k.Kid)

	id := &identity.Identity{Subject: "alice", Scopes: scopes.Of("notes:read", "crm:read")}
	tok, err := signer.Token(context.Background(), id)
	fmt.Println(err == nil && tok != "")
	// Output:
	// OKP Ed25519 EdDSA gateway-2026-01
	// true
}

// An ordinary *http.Client reaches a backend with the identity that the
// request's context carries.
func ExampleTransport() {
	notes := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("backend got a bearer token:", len(r.Header.Get("Authorization")) > len("Bearer "))
	}))
	defer notes.Close()

	hc := &http.Client{Transport: &proxy.Transport{Credential: proxy.Forward("https://notes.example.com")}}
	id := identity.Identity{Subject: "alice", Audience: []string{"https://notes.example.com"}}.WithToken("eyJ...")
	ctx := identity.NewContext(context.Background(), id) // identity.Middleware does this

	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, notes.URL+"/notes", nil)
	resp, err := hc.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	// Output:
	// backend got a bearer token: true
}
