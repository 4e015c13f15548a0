package identitytest

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Bounds on a registration request.
const (
	maxRegistrationBytes = 64 << 10
	maxRedirectURIs      = 20
	maxURILength         = 2000
	maxClientNameLength  = 200
	maxContacts          = 10
)

// client is a registered OAuth client, dynamic or configured.
type client struct {
	id           string
	secret       string // empty for a public client
	authMethod   string // authMethodNone, authMethodBasic or authMethodPost
	redirectURIs []string
	grantTypes   []string
	name         string // shown on the sign-in page; may be empty
	dynamic      bool   // registered at the registration endpoint, by anyone
}

// redirectsErrors reports whether an authorization request of this client
// that fails before the user has seen the sign-in page is answered by a
// redirect to redirectURI (RFC 6749 §4.1.2.1), or on an error page. Anyone
// may register a client, so a registered redirect URI is no proof of
// trust: redirecting its malformed requests at once would make this server
// an open redirector (RFC 9700 §4.11.2). Configured clients and loopback
// redirect URIs (a native app on this machine) get the redirect.
func (c *client) redirectsErrors(redirectURI string) bool {
	if !c.dynamic {
		return true
	}
	u, err := url.Parse(redirectURI)
	return err == nil && u.Scheme == "http" && isLoopbackHost(u.Hostname())
}

// mayRefresh reports whether the client registered the refresh_token grant.
func (c *client) mayRefresh() bool { return slices.Contains(c.grantTypes, grantTypeRefreshToken) }

// displayName is what the sign-in page calls the client.
func (c *client) displayName() string {
	if c.name != "" {
		return c.name
	}
	return c.id
}

// allowsRedirect reports whether uri is one of the client's redirect URIs:
// the same string, or, for an http URI on a loopback IP literal, the same
// URI with any port (RFC 8252 §7.3: a native app gets a port when it starts
// listening).
func (c *client) allowsRedirect(uri string) bool {
	if slices.Contains(c.redirectURIs, uri) {
		return true
	}
	req, err := url.Parse(uri)
	if err != nil || req.Scheme != "http" || req.User != nil || strings.Contains(uri, "#") {
		return false
	}
	if ip := net.ParseIP(req.Hostname()); ip == nil || !ip.IsLoopback() {
		return false
	}
	for _, r := range c.redirectURIs {
		reg, err := url.Parse(r)
		if err == nil && reg.Scheme == "http" && reg.User == nil &&
			reg.Hostname() == req.Hostname() && reg.EscapedPath() == req.EscapedPath() && reg.RawQuery == req.RawQuery {
			return true
		}
	}
	return false
}

// client returns the client id, configured or registered, or nil.
func (a *authServer) client(id string) *client {
	if c, ok := a.preregistered[id]; ok {
		return c
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c, _ := a.clients.get(id)
	return c
}

// registration is the client metadata of RFC 7591 §2 that the server reads;
// it ignores the rest, as §2 asks.
type registration struct {
	RedirectURIs            []string `json:"redirect_uris"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	ResponseTypes           []string `json:"response_types,omitempty"`
	ClientName              string   `json:"client_name,omitempty"`
	ClientURI               string   `json:"client_uri,omitempty"`
	LogoURI                 string   `json:"logo_uri,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	Contacts                []string `json:"contacts,omitempty"`
	TOSURI                  string   `json:"tos_uri,omitempty"`
	PolicyURI               string   `json:"policy_uri,omitempty"`
	SoftwareID              string   `json:"software_id,omitempty"`
	SoftwareVersion         string   `json:"software_version,omitempty"`
	ApplicationType         string   `json:"application_type,omitempty"` // OpenID Connect registration
}

// registrationResponse is the RFC 7591 §3.2.1 answer: the client's
// credentials and the metadata registered, defaults filled in.
type registrationResponse struct {
	ClientID              string `json:"client_id"`
	ClientSecret          string `json:"client_secret,omitempty"`
	ClientIDIssuedAt      int64  `json:"client_id_issued_at"`
	ClientSecretExpiresAt *int64 `json:"client_secret_expires_at,omitempty"` // 0: never; sent with a secret
	registration
}

// registrationError is a refused registration: an RFC 7591 §3.2.2 error
// code and a short description.
type registrationError struct{ code, description string }

func (e *registrationError) Error() string { return e.code + ": " + e.description }

func invalidMetadata(format string, args ...any) error {
	return &registrationError{"invalid_client_metadata", fmt.Sprintf(format, args...)}
}

// serveRegister implements RFC 7591 dynamic client registration: a JSON
// POST of client metadata, answered 201 with a random client_id (and a
// secret for client_secret_basic or client_secret_post, RFC 7591's default)
// or 400 with invalid_redirect_uri or invalid_client_metadata.
func (a *authServer) serveRegister(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "the body must be application/json")
		return
	}
	var reg registration
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRegistrationBytes))
	if err := dec.Decode(&reg); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeOAuthError(w, http.StatusRequestEntityTooLarge, "invalid_client_metadata", "the body is too large")
			return
		}
		writeOAuthError(w, http.StatusBadRequest, "invalid_client_metadata", "the body is not client metadata in JSON")
		return
	}
	c, err := registerClient(&reg)
	if err != nil {
		var re *registrationError
		if !errors.As(err, &re) {
			re = &registrationError{"invalid_client_metadata", "invalid client metadata"}
		}
		writeOAuthError(w, http.StatusBadRequest, re.code, re.description)
		return
	}
	a.mu.Lock()
	a.clients.put(c.id, c, time.Time{})
	a.mu.Unlock()

	resp := registrationResponse{ClientID: c.id, ClientSecret: c.secret, ClientIDIssuedAt: time.Now().Unix(), registration: reg}
	if c.secret != "" {
		never := int64(0)
		resp.ClientSecretExpiresAt = &never
	}
	writeJSON(w, http.StatusCreated, resp)
}

// registerClient validates reg, fills in its defaults and returns the new
// client with fresh credentials.
func registerClient(reg *registration) (*client, error) {
	if len(reg.RedirectURIs) == 0 {
		return nil, &registrationError{"invalid_redirect_uri", "redirect_uris is required"}
	}
	if len(reg.RedirectURIs) > maxRedirectURIs {
		return nil, &registrationError{"invalid_redirect_uri", fmt.Sprintf("at most %d redirect_uris", maxRedirectURIs)}
	}
	for n, u := range reg.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return nil, &registrationError{"invalid_redirect_uri", fmt.Sprintf("redirect_uris[%d] %v", n, err)}
		}
	}

	switch reg.TokenEndpointAuthMethod {
	case "":
		reg.TokenEndpointAuthMethod = authMethodBasic // RFC 7591 §2
	case authMethodNone, authMethodBasic, authMethodPost:
	default:
		return nil, invalidMetadata("token_endpoint_auth_method must be none, client_secret_basic or client_secret_post")
	}
	if len(reg.GrantTypes) == 0 {
		reg.GrantTypes = []string{grantTypeAuthorizationCode} // RFC 7591 §2
	}
	for _, g := range reg.GrantTypes {
		if g != grantTypeAuthorizationCode && g != grantTypeRefreshToken {
			return nil, invalidMetadata("grant_types may hold only authorization_code and refresh_token")
		}
	}
	if !slices.Contains(reg.GrantTypes, grantTypeAuthorizationCode) {
		return nil, invalidMetadata("grant_types must include authorization_code")
	}
	reg.GrantTypes = slices.Compact(slices.Sorted(slices.Values(reg.GrantTypes)))
	if len(reg.ResponseTypes) == 0 {
		reg.ResponseTypes = []string{"code"}
	}
	for _, rt := range reg.ResponseTypes {
		if rt != "code" {
			return nil, invalidMetadata("response_types may hold only code")
		}
	}
	reg.ResponseTypes = []string{"code"}

	if len(reg.ClientName) > maxClientNameLength {
		return nil, invalidMetadata("client_name is longer than %d bytes", maxClientNameLength)
	}
	for name, u := range map[string]string{"client_uri": reg.ClientURI, "logo_uri": reg.LogoURI, "tos_uri": reg.TOSURI, "policy_uri": reg.PolicyURI} {
		if u != "" && !isWebURL(u) {
			return nil, invalidMetadata("%s must be an http or https URL", name)
		}
	}
	if len(reg.Scope) > 2000 {
		return nil, invalidMetadata("scope is too long")
	}
	for _, s := range scopeTokens(reg.Scope) {
		if !validScopeToken(s) {
			return nil, invalidMetadata("scope holds an invalid scope token")
		}
	}
	if len(reg.Contacts) > maxContacts {
		return nil, invalidMetadata("at most %d contacts", maxContacts)
	}
	for _, c := range reg.Contacts {
		if len(c) > 320 {
			return nil, invalidMetadata("a contact is too long")
		}
	}
	if len(reg.SoftwareID) > 200 || len(reg.SoftwareVersion) > 200 {
		return nil, invalidMetadata("software_id or software_version is too long")
	}
	switch reg.ApplicationType {
	case "", "web", "native":
	default:
		return nil, invalidMetadata("application_type must be web or native")
	}

	c := &client{
		id:           rand.Text(),
		authMethod:   reg.TokenEndpointAuthMethod,
		redirectURIs: slices.Clone(reg.RedirectURIs),
		grantTypes:   slices.Clone(reg.GrantTypes),
		name:         reg.ClientName,
		dynamic:      true,
	}
	if c.authMethod != authMethodNone {
		c.secret = rand.Text() + rand.Text()
	}
	return c, nil
}

// preregisteredClient validates a configured client.
func preregisteredClient(rc RegisteredClient) (*client, error) {
	if rc.ID == "" {
		return nil, fmt.Errorf("ID is required")
	}
	if len(rc.RedirectURIs) == 0 {
		return nil, fmt.Errorf("RedirectURIs is required")
	}
	for _, u := range rc.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return nil, fmt.Errorf("redirect URI %q %w", u, err)
		}
	}
	method := rc.AuthMethod
	switch {
	case rc.Secret == "" && (method == "" || method == authMethodNone):
		method = authMethodNone
	case rc.Secret == "":
		return nil, fmt.Errorf("AuthMethod %q needs a Secret", method)
	case method == "":
		method = authMethodBasic
	case method != authMethodBasic && method != authMethodPost:
		return nil, fmt.Errorf("AuthMethod %q with a Secret must be client_secret_basic or client_secret_post", method)
	}
	return &client{
		id:           rc.ID,
		secret:       rc.Secret,
		authMethod:   method,
		redirectURIs: slices.Clone(rc.RedirectURIs),
		grantTypes:   []string{grantTypeAuthorizationCode, grantTypeRefreshToken},
		name:         rc.Name,
	}, nil
}

// checkRedirectURI accepts an absolute URI without a fragment that is https,
// http on a loopback host (127.0.0.0/8, [::1] or localhost), or a private-use
// scheme of a native app (RFC 8252 §7.1). The error completes "redirect URI
// ...".
func checkRedirectURI(raw string) error {
	if len(raw) > maxURILength {
		return fmt.Errorf("is longer than %d bytes", maxURILength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("is not an absolute URI")
	}
	if strings.Contains(raw, "#") {
		return fmt.Errorf("must not have a fragment")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		if u.Host == "" || u.User != nil {
			return fmt.Errorf("must name a host and no user information")
		}
	case "http":
		if u.User != nil || !isLoopbackHost(u.Hostname()) {
			return fmt.Errorf("uses http on a host that is not loopback (127.0.0.1, localhost or [::1]): use https")
		}
	case "javascript", "data", "vbscript", "file", "blob", "about", "ws", "wss":
		return fmt.Errorf("uses a scheme that cannot receive a redirect")
	}
	return nil
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isWebURL reports whether s is an absolute http or https URL.
func isWebURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
