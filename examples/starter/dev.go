package main

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/identity/identitytest"
)

// The client the token subcommand signs in as: registered in advance with
// the development authorization server. Nothing listens at its redirect URI:
// the token command reads the code from the redirect without following it.
const (
	devCLIClientID    = "starter-token-command"
	devCLIRedirectURI = "http://127.0.0.1/starter-token-callback"
)

// devServer is the development authorization server of -dev mode: an
// identitytest issuer with authorization code + PKCE, dynamic client
// registration and a sign-in page for the demo users, on loopback.
type devServer struct {
	issuer *identitytest.Issuer
	users  []identitytest.User
}

// devIssuerAddr is where the development authorization server listens:
// 127.0.0.1 and the port after PORT (3001 by default), or a free port when
// PORT is 0.
func devIssuerAddr(port int) string {
	if port == 0 || port == 65535 {
		return "127.0.0.1:0"
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1))
}

// starterScopes are the scopes the tools need, in their order.
func starterScopes() []string {
	var out []string
	for _, t := range demoapi.Tools() {
		if !slices.Contains(out, t.Scope) {
			out = append(out, t.Scope)
		}
	}
	return out
}

// startDevServer starts the development authorization server for cfg and
// points cfg at it: its tokens name PUBLIC_URL as their audience (the
// RFC 8707 resource clients ask for), and it offers the tools' scopes and
// OAUTH_SCOPES.
func startDevServer(cfg *config) (*devServer, error) {
	users := identitytest.DefaultUsers()
	iss, err := identitytest.StartIssuer(
		identitytest.WithAddr(devIssuerAddr(cfg.Port)),
		identitytest.WithAudience(cfg.PublicURL),
		identitytest.WithAuthorizationServer(identitytest.AuthServerConfig{
			Users:     users,
			Scopes:    append(starterScopes(), cfg.ExtraScopes...),
			Resources: []string{cfg.PublicURL},
			Clients: []identitytest.RegisteredClient{{
				ID:           devCLIClientID,
				RedirectURIs: []string{devCLIRedirectURI},
				Name:         "starter token command",
			}},
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("-dev: start the development authorization server on %s: %w (is another -dev server running? stop it or set another PORT)", devIssuerAddr(cfg.Port), err)
	}
	cfg.Issuer = iss.URL()
	cfg.Audiences = []string{cfg.PublicURL}
	return &devServer{issuer: iss, users: users}, nil
}

// Close stops the development authorization server.
func (d *devServer) Close() { d.issuer.Close() }

// readyField is the issuer's field of the "ready" line, "" without -dev.
func (d *devServer) readyField() string {
	if d == nil {
		return ""
	}
	return " issuer=" + d.issuer.URL()
}

// printBanner says loudly that this is dev mode, and how to connect.
func (d *devServer) printBanner(w io.Writer, cfg *config, warnings []string) {
	var names []string
	for _, u := range d.users {
		names = append(names, u.Username)
	}
	line := strings.Repeat("=", 78)
	fmt.Fprintf(w, `%[1]s
  DEV MODE — not for production
  The sign-in page lets anyone on this machine sign in as any demo user,
  and the data is keyed with a public salt unless PII_SALT is set.
%[1]s
  MCP endpoint:        %[2]s
  Sign-in (issuer):    %[3]s   demo users: %[4]s
  Data:                %[5]s

  MCP Inspector:  npx @modelcontextprotocol/inspector
                  Transport "Streamable HTTP", URL %[2]s, Connect:
                  the browser opens the sign-in page; pick a user.
  Claude Code:    claude mcp add --transport http starter %[2]s
                  then /mcp in Claude Code to sign in.
  curl:           TOKEN=$(go run ./examples/starter token -issuer %[3]s -resource %[2]s -user alice -scopes "starter.whoami starter.echo")
                  curl -s -X POST -H "Authorization: Bearer $TOKEN" %[6]s/tools/whoami
`, line, cfg.PublicURL, d.issuer.URL(), strings.Join(names, ", "), cfg.CRMDBPath, publicOrigin(cfg.PublicURL))
	for _, warning := range warnings {
		fmt.Fprintf(w, "  warning: %s\n", warning)
	}
	fmt.Fprintln(w, line)
}

// publicOrigin returns scheme://host[:port] of u.
func publicOrigin(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, _, _ := strings.Cut(rest, "/")
	return scheme + "://" + host
}
