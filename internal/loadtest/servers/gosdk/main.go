// Command gosdk is the load harness's baseline: the MCP server a Go
// developer writes today with go-sdk alone. Every request's bearer token is
// verified by go-sdk's auth.RequireBearerToken with a verifier built on
// golang-jwt/jwt/v5 and MicahParks/keyfunc/v3 (JWKS cached and refreshed by
// keyfunc, the RS256 signature checked on every request, no token cache),
// in front of go-sdk's StreamableHTTPHandler with its defaults and the echo
// tool. With -noauth the verification is left out.
//
// It listens on -addr (default a random loopback port) and prints
// "listening on <host:port>" on stdout once it accepts connections.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"strings"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/internal/loadtest/echo"
	"github.com/idgate/idgate/internal/loadtest/servers/serve"
)

func main() {
	var (
		addr      = flag.String("addr", "127.0.0.1:0", "listen address")
		issuer    = flag.String("issuer", "", "issuer URL (required unless -noauth)")
		jwksURL   = flag.String("jwks", "", "JWKS URL (required unless -noauth)")
		audience  = flag.String("audience", "https://mcp.example.com/mcp", "the tokens' audience")
		scope     = flag.String("scope", echo.Scope, "the scope a token must grant")
		noAuth    = flag.Bool("noauth", false, "serve without authentication")
		stateless = flag.Bool("stateless", false, "serve MCP without sessions")
		jsonResp  = flag.Bool("json", false, "answer POSTs with application/json instead of SSE")
		cpuProf   = flag.String("cpuprofile", "", "write a CPU profile of the server's life to this file")
		memProf   = flag.String("memprofile", "", "write an allocation profile to this file on exit")
	)
	flag.Parse()
	ctx, stop := serve.Context()
	defer stop()
	stopProfiles, err := serve.StartProfiles(*cpuProf, *memProf)
	if err != nil {
		log.Fatal(err)
	}
	defer func() {
		if err := stopProfiles(); err != nil {
			log.Print(err)
		}
	}()

	s := mcp.NewServer(&mcp.Implementation{Name: "loadtest", Version: "1.0.0"}, nil)
	mcp.AddTool(s, echo.Tool(), echo.Handler)
	var h http.Handler = mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s },
		&mcp.StreamableHTTPOptions{Stateless: *stateless, JSONResponse: *jsonResp})
	if !*noAuth {
		if *issuer == "" || *jwksURL == "" {
			log.Fatal("-issuer and -jwks are required unless -noauth is set")
		}
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{*jwksURL})
		if err != nil {
			log.Fatal(err)
		}
		h = auth.RequireBearerToken(verifier(kf, *issuer, *audience), &auth.RequireBearerTokenOptions{
			Scopes: []string{*scope},
		})(h)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	if err := serve.Run(ctx, *addr, mux); err != nil {
		log.Print(err)
	}
}

// claims are the access token's claims the verifier reads.
type claims struct {
	jwt.RegisteredClaims
	Scope string `json:"scope"`
}

// verifier checks a JWT access token the usual way: RS256 signature with a
// key from the JWKS, issuer, audience, expiry.
func verifier(kf keyfunc.Keyfunc, issuer, audience string) auth.TokenVerifier {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
	)
	return func(_ context.Context, token string, _ *http.Request) (*auth.TokenInfo, error) {
		var c claims
		if _, err := parser.ParseWithClaims(token, &c, kf.Keyfunc); err != nil {
			return nil, errors.Join(auth.ErrInvalidToken, err)
		}
		return &auth.TokenInfo{
			Scopes:     strings.Fields(c.Scope),
			Expiration: c.ExpiresAt.Time,
			UserID:     c.Issuer + "|" + c.Subject,
		}, nil
	}
}
