package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/identity/identitytest"
)

// tokenTimeout bounds the whole token subcommand.
const tokenTimeout = 30 * time.Second

// runToken is the token subcommand: it gets an access token for curl from
// the development authorization server of a running -dev server, by the
// same flow an MCP client uses: authorization code with PKCE, signing in as
// -user on the sign-in page (as identitytest.SignIn does: fetch the page,
// post its form), for the resource PUBLIC_URL. It prints the token alone on
// stdout.
//
// Minting through the running server, rather than signing with a key of its
// own, means the token is one the server accepts by construction, and no
// signing key has to be written to disk. The token lives as long as that
// server's signing key: a restarted -dev server has a new key, so mint a
// new token.
func runToken(ctx context.Context, args []string, env map[string]string, stdout, stderr io.Writer) error {
	port := defaultPort
	if p, err := strconv.Atoi(strings.TrimSpace(env["PORT"])); err == nil && p > 0 && p < 65535 {
		port = p
	}
	resource := strings.TrimSpace(env["PUBLIC_URL"])
	if u, err := url.Parse(resource); resource == "" || err != nil || !isLoopbackHost(u.Hostname()) {
		// What -dev serves: it ignores a PUBLIC_URL not on this machine.
		resource = fmt.Sprintf("http://localhost:%d/mcp", port)
	}
	fs := flag.NewFlagSet("starter token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "alice", "demo user to sign in as (alice or bob)")
	scope := fs.String("scopes", strings.Join(starterScopes(), " "), "space-separated scopes to grant")
	issuer := fs.String("issuer", "http://"+devIssuerAddr(port), "URL of the -dev server's sign-in issuer (printed in its banner)")
	fs.StringVar(&resource, "resource", resource, "the MCP URL the token is for (its audience)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q", fs.Arg(0))
	}
	ctx, cancel := context.WithTimeout(ctx, tokenTimeout)
	defer cancel()
	tok, err := devToken(ctx, http.DefaultClient, *issuer, resource, *user, strings.Fields(*scope))
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// devToken gets an access token for user with scopes from the development
// authorization server at issuer, for resource.
func devToken(ctx context.Context, hc *http.Client, issuer, resource, user string, scopes []string) (string, error) {
	md, err := fetchASMetadata(ctx, hc, issuer)
	if err != nil {
		return "", err
	}
	verifier := rand.Text() + rand.Text() // 52 characters of base32: a valid PKCE verifier
	sum := sha256.Sum256([]byte(verifier))
	state := rand.Text()
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {devCLIClientID},
		"redirect_uri":          {devCLIRedirectURI},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
		"state":                 {state},
		"resource":              {resource},
		"scope":                 {strings.Join(scopes, " ")},
	}
	loc, err := identitytest.SignIn(ctx, hc, md.AuthorizationEndpoint+"?"+q.Encode(), user, scopes...)
	if err != nil {
		return "", fmt.Errorf("sign in as %q: %w", user, err)
	}
	back := loc.Query()
	if e := back.Get("error"); e != "" {
		return "", fmt.Errorf("sign in as %q refused: %s %s", user, e, back.Get("error_description"))
	}
	if back.Get("state") != state || back.Get("code") == "" {
		return "", errors.New("sign-in answered without a code for this request")
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {back.Get("code")},
		"redirect_uri":  {devCLIRedirectURI},
		"client_id":     {devCLIClientID},
		"code_verifier": {verifier},
		"resource":      {resource},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, md.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tr); err != nil {
		return "", fmt.Errorf("token endpoint answered %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		return "", fmt.Errorf("token endpoint answered %s: %s %s", resp.Status, tr.Error, tr.Description)
	}
	return tr.AccessToken, nil
}

// asMetadata is the part of RFC 8414 metadata the token command needs.
type asMetadata struct {
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
}

// fetchASMetadata reads the authorization server metadata of issuer.
func fetchASMetadata(ctx context.Context, hc *http.Client, issuer string) (*asMetadata, error) {
	u := strings.TrimSuffix(issuer, "/") + "/.well-known/oauth-authorization-server"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("-issuer %q: %w", issuer, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no development server answers at %s: start one with `go run ./examples/starter -dev` (same PORT), or pass the issuer its banner prints with -issuer (%w)", issuer, err)
	}
	defer resp.Body.Close()
	var md asMetadata
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s: is this a -dev server's issuer?", u, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&md); err != nil || md.AuthorizationEndpoint == "" || md.TokenEndpoint == "" {
		return nil, fmt.Errorf("%s is not the metadata of a -dev server's sign-in issuer", u)
	}
	return &md, nil
}
