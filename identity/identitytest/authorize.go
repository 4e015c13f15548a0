package identitytest

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idgate/idgate/scopes"
)

// OAuth 2.0 grant types of the dev authorization server.
const (
	grantTypeAuthorizationCode = "authorization_code"
	grantTypeRefreshToken      = "refresh_token"
)

// Client authentication methods at the token endpoint (RFC 7591 §2).
const (
	authMethodNone  = "none"
	authMethodBasic = "client_secret_basic"
	authMethodPost  = "client_secret_post"
)

// Defaults and bounds of the dev authorization server.
const (
	defaultAccessTokenLifetime  = time.Hour
	defaultRefreshTokenLifetime = 24 * time.Hour
	defaultMaxClients           = 1000

	codeLifetime     = 60 * time.Second // RFC 6749 §4.1.2: short, single use
	pendingLifetime  = 10 * time.Minute // a sign-in page left open this long expires
	maxPending       = 1000
	maxCodes         = 1000
	maxRefreshTokens = 10000
)

// AuthServerConfig configures the development authorization server that
// WithAuthorizationServer adds to an Issuer. The zero value works: it offers
// DefaultUsers, any scope and any resource.
type AuthServerConfig struct {
	// Users are the demo people the sign-in page offers; the person at the
	// browser picks one, with no password. Default: DefaultUsers().
	Users []User

	// Scopes are the scopes clients may be granted, advertised as
	// "scopes_supported". A requested scope outside the list is dropped, not
	// refused: the sign-in page names it as not offered and the flow goes
	// on without it, so that a client asking for "openid" or
	// "offline_access" as well still signs in. Default: empty, meaning every
	// syntactically valid scope is offered and "scopes_supported" is
	// omitted.
	Scopes []string

	// Resources are the RFC 8707 resource indicators clients may request
	// (compared exactly). The requested one becomes the "aud" of the access
	// token; a request for any other is refused with invalid_target. A
	// request without "resource" gets the issuer's audience (WithAudience,
	// default DefaultAudience). Default: empty, meaning any absolute URI
	// without a fragment is accepted.
	Resources []string

	// Clients are registered in advance, beside those that register
	// dynamically at the registration endpoint. They are never evicted.
	// Default: none.
	Clients []RegisteredClient

	// AccessTokenLifetime is how long an issued access token lives.
	// Default 1 hour.
	AccessTokenLifetime time.Duration

	// RefreshTokenLifetime is how long a refresh token stays usable; each use
	// rotates it for a new one with a fresh lifetime. Default 24 hours.
	RefreshTokenLifetime time.Duration

	// MaxClients bounds the dynamically registered clients kept; beyond it
	// the oldest registration is forgotten. Default 1000.
	MaxClients int
}

// User is a demo person of the dev authorization server.
type User struct {
	// Username is what the sign-in page shows and what its form posts in
	// the "user" field, such as "alice". Required and unique.
	Username string

	// Subject is the "sub" of the user's tokens. Default: Username.
	Subject string

	// Email is the "email" claim. Default: none (the claim is omitted).
	Email string

	// Name is the "name" claim, also shown on the sign-in page. Default:
	// none (the claim is omitted and the page shows Username).
	Name string
}

// DefaultUsers returns the demo users of an AuthServerConfig without Users:
// alice and bob, each with an example.com address.
func DefaultUsers() []User {
	return []User{
		{Username: "alice", Subject: "alice", Email: "alice@example.com", Name: "Alice Example"},
		{Username: "bob", Subject: "bob", Email: "bob@example.com", Name: "Bob Example"},
	}
}

// RegisteredClient is an OAuth client configured in advance
// (AuthServerConfig.Clients). It may use the authorization_code and
// refresh_token grants.
type RegisteredClient struct {
	// ID is the client_id. Required and unique.
	ID string

	// Secret makes the client confidential: it must authenticate at the
	// token endpoint with this secret, by AuthMethod. Default: none, a
	// public client that sends only its client_id (PKCE protects it).
	Secret string

	// AuthMethod is how a client with a Secret authenticates:
	// "client_secret_basic" or "client_secret_post". Default
	// "client_secret_basic" with a Secret, "none" without.
	AuthMethod string

	// RedirectURIs are the redirect URIs the client may use, checked as
	// dynamic registration checks them (https; http only on a loopback
	// host; or a private-use scheme; no fragment). Required.
	RedirectURIs []string

	// Name is shown on the sign-in page. Default: ID.
	Name string
}

// WithAuthorizationServer turns the Issuer into an OAuth 2.1 authorization
// server for development and tests: authorization code with PKCE S256 at
// "/authorize" (a sign-in page where a person, or SignIn, picks a demo user
// and the scopes to grant), RFC 7591 dynamic client registration at
// "/register", the authorization_code and refresh_token grants at the token
// endpoint, and RFC 8414 metadata that advertises all of it. Access tokens
// are RFC 9068 JWTs ("typ" "at+jwt") signed by the issuer's current key.
//
// It is not for production: anyone who can reach the sign-in page can sign
// in as any demo user. Keep it on a loopback address (WithAddr).
func WithAuthorizationServer(cfg AuthServerConfig) IssuerOption {
	return func(c *issuerConfig) { c.authServer = &cfg }
}

// AuthorizationURL returns the URL of the authorization endpoint (the
// sign-in page) under WithAuthorizationServer.
func (i *Issuer) AuthorizationURL() string { return i.base + "/authorize" }

// RegistrationURL returns the URL of the RFC 7591 dynamic client
// registration endpoint under WithAuthorizationServer.
func (i *Issuer) RegistrationURL() string { return i.base + "/register" }

// authServer is the state of the dev authorization server of an Issuer.
type authServer struct {
	iss             *Issuer
	users           []User
	usersByName     map[string]User
	scopes          []string // nil: any scope
	resources       []string // nil: any resource
	accessTTL       time.Duration
	refreshTTL      time.Duration
	preregistered   map[string]*client
	signInPage      *template.Template
	errorPage       *template.Template
	crossOrigin     *http.CrossOriginProtection
	corsPaths       map[string]bool
	authorizePath   string
	defaultAudience string

	mu      sync.Mutex
	clients *boundedStore[*client]
	pending *boundedStore[*pendingAuthorization]
	codes   *boundedStore[*authorizationCode]
	refresh *boundedStore[*refreshGrant]
}

// newAuthServer validates cfg and applies its defaults.
func newAuthServer(iss *Issuer, cfg AuthServerConfig) (*authServer, error) {
	a := &authServer{
		iss:             iss,
		usersByName:     map[string]User{},
		accessTTL:       cfg.AccessTokenLifetime,
		refreshTTL:      cfg.RefreshTokenLifetime,
		preregistered:   map[string]*client{},
		crossOrigin:     http.NewCrossOriginProtection(),
		defaultAudience: iss.audience,
	}
	if a.accessTTL == 0 {
		a.accessTTL = defaultAccessTokenLifetime
	}
	if a.refreshTTL == 0 {
		a.refreshTTL = defaultRefreshTokenLifetime
	}
	if a.accessTTL < 0 || a.refreshTTL < 0 {
		return nil, fmt.Errorf("token lifetimes must not be negative (AccessTokenLifetime %v, RefreshTokenLifetime %v)", a.accessTTL, a.refreshTTL)
	}
	maxClients := cfg.MaxClients
	if maxClients == 0 {
		maxClients = defaultMaxClients
	}
	if maxClients < 0 {
		return nil, fmt.Errorf("MaxClients %d must not be negative", maxClients)
	}

	users := cfg.Users
	if len(users) == 0 {
		users = DefaultUsers()
	}
	for _, u := range users {
		if u.Username == "" {
			return nil, fmt.Errorf("a user has no Username (set it, such as \"alice\")")
		}
		if _, dup := a.usersByName[u.Username]; dup {
			return nil, fmt.Errorf("user %q appears twice", u.Username)
		}
		if u.Subject == "" {
			u.Subject = u.Username
		}
		a.usersByName[u.Username] = u
		a.users = append(a.users, u)
	}

	for _, s := range cfg.Scopes {
		if !validScopeToken(s) {
			return nil, fmt.Errorf("scope %q is not a valid scope token (RFC 6749 §3.3)", s)
		}
		if !slices.Contains(a.scopes, s) {
			a.scopes = append(a.scopes, s)
		}
	}
	for _, r := range cfg.Resources {
		if err := checkResource(r); err != nil {
			return nil, fmt.Errorf("resource %q: %w", r, err)
		}
		a.resources = append(a.resources, r)
	}

	for _, rc := range cfg.Clients {
		c, err := preregisteredClient(rc)
		if err != nil {
			return nil, fmt.Errorf("client %q: %w", rc.ID, err)
		}
		if _, dup := a.preregistered[c.id]; dup {
			return nil, fmt.Errorf("client %q appears twice", c.id)
		}
		a.preregistered[c.id] = c
	}

	var err error
	if a.signInPage, a.errorPage, err = parsePages(); err != nil {
		return nil, err
	}
	a.clients = newBoundedStore[*client](maxClients)
	a.pending = newBoundedStore[*pendingAuthorization](maxPending)
	a.codes = newBoundedStore[*authorizationCode](maxCodes)
	a.refresh = newBoundedStore[*refreshGrant](maxRefreshTokens)
	return a, nil
}

// routes registers the endpoints of the authorization server under the
// issuer path p, and notes which answer browsers' cross-origin requests.
func (a *authServer) routes(mux *http.ServeMux, p string) {
	a.authorizePath = p + "/authorize"
	mux.HandleFunc("GET "+a.authorizePath, a.serveAuthorize)
	mux.HandleFunc("POST "+a.authorizePath, a.serveSignIn)
	mux.HandleFunc("POST "+p+"/register", a.serveRegister)

	// Browser-based clients (the MCP Inspector) read the metadata and call
	// the registration and token endpoints from another origin.
	a.corsPaths = map[string]bool{
		p + "/.well-known/openid-configuration":       true,
		"/.well-known/openid-configuration" + p:       true,
		"/.well-known/oauth-authorization-server" + p: true,
		p + "/jwks":     true,
		p + "/token":    true,
		p + "/register": true,
	}
}

// describe adds the authorization server's members to the discovery
// document.
func (a *authServer) describe(md *metadata) {
	md.AuthorizationEndpoint = a.iss.AuthorizationURL()
	md.RegistrationEndpoint = a.iss.RegistrationURL()
	md.GrantTypesSupported = []string{grantTypeAuthorizationCode, grantTypeRefreshToken, grantTypeTokenExchange}
	md.TokenEndpointAuthMethods = []string{authMethodNone, authMethodBasic, authMethodPost}
	md.ScopesSupported = a.scopes
	md.ResponseTypesSupported = []string{"code"}
	md.ResponseModesSupported = []string{"query"}
	md.CodeChallengeMethodsSupported = []string{"S256"}
	md.IssParameterSupported = true
}

// allowCrossOrigin answers CORS preflights for the endpoints a browser-based
// client calls and lets any origin read their answers. None of them uses
// cookies: a cross-origin caller gains nothing it could not get directly.
func (a *authServer) allowCrossOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.corsPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, MCP-Protocol-Version")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkResource reports whether r can be an RFC 8707 resource indicator:
// an absolute URI without a fragment.
func checkResource(r string) error {
	u, err := url.Parse(r)
	switch {
	case err != nil:
		return fmt.Errorf("not a URI")
	case !u.IsAbs() || (u.Host == "" && u.Opaque == ""):
		return fmt.Errorf("not an absolute URI")
	case strings.Contains(r, "#"):
		return fmt.Errorf("has a fragment")
	}
	return nil
}

// validScopeToken reports whether s is a scope token of RFC 6749 §3.3
// (scopes.ValidScope) of at most 200 bytes.
func validScopeToken(s string) bool { return len(s) <= 200 && scopes.ValidScope(s) }
