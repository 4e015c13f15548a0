package identitytest

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultAudience is the "aud" of minted tokens unless WithAudience or the
// Audience token option says otherwise: the canonical MCP URL of the
// project's examples.
const DefaultAudience = "https://mcp.example.com/mcp"

// DefaultAlgorithm is the algorithm of an issuer's first signing key unless
// WithAlgorithm says otherwise.
const DefaultAlgorithm = "RS256"

// defaultExchangeLifetime is how long a token issued by token exchange lives
// unless WithExchangeLifetime says otherwise.
const defaultExchangeLifetime = 5 * time.Minute

// Issuer is a test authorization server listening on a local httptest
// server. Its methods are safe for concurrent use.
type Issuer struct {
	srv *httptest.Server

	origin string // "http://127.0.0.1:port"
	issuer string // the "iss" value, as URL returns it
	base   string // issuer without a trailing slash: endpoints hang off it
	path   string // issuer path without a trailing slash; "" at the root

	audience         string
	clientID, secret string
	exchangeTTL      time.Duration
	publishAlg       bool
	as               *authServer // the dev authorization server; nil without WithAuthorizationServer

	mu       sync.Mutex
	keys     []*signingKey // published keys, oldest first
	current  *signingKey   // the key that signs; may have been removed
	opaque   map[string]map[string]any
	revoked  map[string]time.Time // token → its expiry (zero: none known)
	requests map[string]int

	jwksFetches, introspections, exchanges         int
	jwksDown, introspectionDown, tokenEndpointDown bool
}

// An IssuerOption configures StartIssuer and NewIssuer.
type IssuerOption func(*issuerConfig)

type issuerConfig struct {
	alg           string
	audience      string
	path          string
	trailingSlash bool
	clientID      string
	secret        string
	exchangeTTL   time.Duration
	noOpenID      bool
	noOAuth       bool
	omitKeyAlg    bool
	authServer    *AuthServerConfig
	addr          string
	listener      net.Listener
}

// WithAlgorithm sets the algorithm of the issuer's first signing key: RS256,
// RS384, RS512, PS256, PS384, PS512 (RSA-2048), ES256, ES384, ES512 (the
// matching NIST curve) or EdDSA (Ed25519). Default DefaultAlgorithm.
func WithAlgorithm(alg string) IssuerOption { return func(c *issuerConfig) { c.alg = alg } }

// WithAudience sets the "aud" of minted tokens. Default DefaultAudience.
func WithAudience(aud string) IssuerOption { return func(c *issuerConfig) { c.audience = aud } }

// WithIssuerPath puts the issuer under a path of its server, as multi-tenant
// providers do: WithIssuerPath("/tenant") gives the issuer
// "http://127.0.0.1:port/tenant". Its endpoints move under the path; RFC 8414
// metadata is then served at "/.well-known/oauth-authorization-server/tenant".
// Default: the issuer is the server's root URL.
func WithIssuerPath(path string) IssuerOption {
	return func(c *issuerConfig) {
		path = strings.Trim(path, "/")
		if path != "" {
			path = "/" + path
		}
		c.path = path
	}
}

// WithTrailingSlash ends the issuer identifier with "/", as Auth0 does
// ("https://tenant.auth0.com/"). Default: no trailing slash.
func WithTrailingSlash() IssuerOption { return func(c *issuerConfig) { c.trailingSlash = true } }

// WithClientCredentials sets the client that may call the introspection and
// token endpoints (HTTP Basic). Default: id "identitytest-client" and a
// random secret; read them with ClientCredentials.
func WithClientCredentials(id, secret string) IssuerOption {
	return func(c *issuerConfig) { c.clientID, c.secret = id, secret }
}

// WithExchangeLifetime sets how long tokens issued by token exchange live
// (never beyond the subject token's own expiry). Default 5 minutes.
func WithExchangeLifetime(d time.Duration) IssuerOption {
	return func(c *issuerConfig) { c.exchangeTTL = d }
}

// WithoutOpenIDConfiguration stops serving
// "/.well-known/openid-configuration" (it answers 404), so that a test can
// prove that RFC 8414 metadata is used instead.
func WithoutOpenIDConfiguration() IssuerOption { return func(c *issuerConfig) { c.noOpenID = true } }

// WithoutAuthorizationServerMetadata stops serving RFC 8414
// "/.well-known/oauth-authorization-server" (it answers 404).
func WithoutAuthorizationServerMetadata() IssuerOption {
	return func(c *issuerConfig) { c.noOAuth = true }
}

// WithoutKeyAlgorithm publishes JWKs without their optional "alg" member, as
// Microsoft Entra ID does, so that a verifier must bind each key to an
// algorithm by its key type. Default: every JWK names its algorithm.
func WithoutKeyAlgorithm() IssuerOption { return func(c *issuerConfig) { c.omitKeyAlg = true } }

// WithAddr makes the issuer listen on addr, such as "127.0.0.1:3001", so
// that its URL stays the same across runs (a development server's
// configuration can then name it). The host must be a loopback address or
// "localhost": StartIssuer refuses any other, since the issuer mints tokens
// for anyone who asks. The issuer URL is built from the address actually
// bound ("localhost:3001" may give "http://127.0.0.1:3001"). Default: a
// random port on 127.0.0.1.
func WithAddr(addr string) IssuerOption { return func(c *issuerConfig) { c.addr = addr } }

// WithListener makes the issuer serve on l, a TCP listener on a loopback
// address (StartIssuer refuses any other). The issuer closes l when it
// closes. Default: a random port on 127.0.0.1.
func WithListener(l net.Listener) IssuerOption { return func(c *issuerConfig) { c.listener = l } }

// NewIssuer starts an Issuer and closes it when the test ends. It fails the
// test on an invalid option.
func NewIssuer(t testing.TB, opts ...IssuerOption) *Issuer {
	t.Helper()
	i, err := StartIssuer(opts...)
	if err != nil {
		t.Fatalf("identitytest: %v", err)
	}
	t.Cleanup(i.Close)
	return i
}

// StartIssuer starts an Issuer outside a test (for an example program or a
// TestMain). The caller must call Close.
func StartIssuer(opts ...IssuerOption) (*Issuer, error) {
	cfg := issuerConfig{
		alg:         DefaultAlgorithm,
		audience:    DefaultAudience,
		clientID:    "identitytest-client",
		secret:      rand.Text(),
		exchangeTTL: defaultExchangeLifetime,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.clientID == "" || cfg.secret == "" {
		return nil, fmt.Errorf("client credentials must not be empty")
	}
	if cfg.exchangeTTL <= 0 {
		return nil, fmt.Errorf("exchange lifetime %v must be positive", cfg.exchangeTTL)
	}
	if cfg.addr != "" && cfg.listener != nil {
		return nil, fmt.Errorf("WithAddr and WithListener both set: choose one")
	}
	if cfg.listener != nil {
		if err := checkLoopbackListener(cfg.listener); err != nil {
			return nil, err
		}
	}
	if cfg.addr != "" {
		if err := checkLoopbackAddr(cfg.addr); err != nil {
			return nil, err
		}
	}
	i := &Issuer{
		audience:    cfg.audience,
		clientID:    cfg.clientID,
		secret:      cfg.secret,
		exchangeTTL: cfg.exchangeTTL,
		publishAlg:  !cfg.omitKeyAlg,
		path:        cfg.path,
		opaque:      map[string]map[string]any{},
		revoked:     map[string]time.Time{},
		requests:    map[string]int{},
	}
	if cfg.authServer != nil {
		var err error
		if i.as, err = newAuthServer(i, *cfg.authServer); err != nil {
			return nil, fmt.Errorf("authorization server: %w", err)
		}
	}
	key, err := newSigningKey(cfg.alg, i.publishAlg)
	if err != nil {
		return nil, err
	}
	i.keys = []*signingKey{key}
	i.current = key
	listener := cfg.listener
	if cfg.addr != "" {
		if listener, err = net.Listen("tcp", cfg.addr); err != nil {
			return nil, fmt.Errorf("listen on %s: %w", cfg.addr, err)
		}
		// Resolving "localhost" may have bound a non-loopback address.
		if err := checkLoopbackListener(listener); err != nil {
			_ = listener.Close()
			return nil, err
		}
	}

	mux := http.NewServeMux()
	var handler http.Handler = mux
	if i.as != nil {
		handler = i.as.allowCrossOrigin(mux)
	}
	i.srv = httptest.NewUnstartedServer(i.countRequests(loopbackHostOnly(handler)))
	// A client that sends its headers slowly does not hold a connection
	// (and its goroutine) open for ever: the dev authorization server runs
	// as long as the starter does.
	i.srv.Config.ReadHeaderTimeout = readHeaderTimeout
	if listener != nil {
		_ = i.srv.Listener.Close()
		i.srv.Listener = listener
	}
	// The URL is known before the server starts, so that no handler ever
	// reads a field written after it started.
	i.origin = "http://" + i.srv.Listener.Addr().String()
	i.base = i.origin + i.path
	i.issuer = i.base
	if cfg.trailingSlash {
		i.issuer += "/"
	}
	i.routes(mux, cfg)
	i.srv.Start()
	return i, nil
}

// routes registers the endpoints, and those of the dev authorization server
// (authorize, register) under WithAuthorizationServer.
func (i *Issuer) routes(mux *http.ServeMux, cfg issuerConfig) {
	if !cfg.noOpenID {
		mux.HandleFunc("GET "+i.path+"/.well-known/openid-configuration", i.serveMetadata)
		if i.path != "" {
			// The path-inserted form some clients also try.
			mux.HandleFunc("GET /.well-known/openid-configuration"+i.path, i.serveMetadata)
		}
	}
	if !cfg.noOAuth {
		mux.HandleFunc("GET /.well-known/oauth-authorization-server"+i.path, i.serveMetadata)
	}
	mux.HandleFunc("GET "+i.path+"/jwks", i.serveJWKS)
	mux.HandleFunc("POST "+i.path+"/introspect", i.serveIntrospection)
	mux.HandleFunc("POST "+i.path+"/token", i.serveToken)
	if i.as != nil {
		i.as.routes(mux, i.path)
	}
}

// Close shuts the server down. NewIssuer calls it when the test ends.
func (i *Issuer) Close() { i.srv.Close() }

// URL returns the issuer identifier, the "iss" of its tokens: the server's
// URL plus the issuer path, with a trailing slash under WithTrailingSlash.
func (i *Issuer) URL() string { return i.issuer }

// Audience returns the default "aud" of minted tokens.
func (i *Issuer) Audience() string { return i.audience }

// JWKSURL returns the URL of the issuer's JWK Set (its "jwks_uri").
func (i *Issuer) JWKSURL() string { return i.base + "/jwks" }

// IntrospectionURL returns the URL of the RFC 7662 introspection endpoint.
func (i *Issuer) IntrospectionURL() string { return i.base + "/introspect" }

// TokenURL returns the URL of the token endpoint: RFC 8693 token exchange,
// and the authorization_code and refresh_token grants under
// WithAuthorizationServer.
func (i *Issuer) TokenURL() string { return i.base + "/token" }

// OpenIDConfigurationURL returns the URL of the OpenID Connect discovery
// document.
func (i *Issuer) OpenIDConfigurationURL() string {
	return i.base + "/.well-known/openid-configuration"
}

// AuthorizationServerMetadataURL returns the URL of the RFC 8414 metadata
// (path-inserted when the issuer has a path).
func (i *Issuer) AuthorizationServerMetadataURL() string {
	return i.origin + "/.well-known/oauth-authorization-server" + i.path
}

// ClientCredentials returns the client that may call the introspection and
// token endpoints with HTTP Basic authentication.
func (i *Issuer) ClientCredentials() (id, secret string) { return i.clientID, i.secret }

// Client returns an HTTP client for the issuer's server.
func (i *Issuer) Client() *http.Client { return i.srv.Client() }

// Requests returns how many requests for path (a URL path such as "/jwks",
// without query) the server received, whatever their answer. Tests use it to
// prove that a URL named in a token ("jku") was never fetched. Paths longer
// than 1 KiB, and paths first requested after 10 000 others, are not
// counted.
func (i *Issuer) Requests(path string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.requests[path]
}

// JWKSFetches returns how many requests the JWKS endpoint received, answered
// or refused (SetJWKSAvailable).
func (i *Issuer) JWKSFetches() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.jwksFetches
}

// SetJWKSAvailable sets whether the JWKS endpoint answers. When false it
// answers 503, as an issuer in an outage would. Default true.
func (i *Issuer) SetJWKSAvailable(ok bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksDown = !ok
}

// readHeaderTimeout bounds how long the server waits for a request's
// headers (a variable for tests).
var readHeaderTimeout = 10 * time.Second

// loopbackHostOnly refuses a request whose Host is not a loopback address or
// "localhost" (with any port) when the server listens on loopback, as it
// does unless WithListener gave another listener. A web page cannot then
// reach it through DNS rebinding (a name of the attacker's that resolves to
// 127.0.0.1): with the page's origin the same as the server's, it could
// read the sign-in page, post it, and take a code for a demo user.
func loopbackHostOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok && isLoopbackAddr(local) {
			host := r.Host
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			if !isLoopbackHost(strings.Trim(host, "[]")) {
				http.Error(w, "this server answers loopback host names only (127.0.0.1, [::1], localhost)", http.StatusMisdirectedRequest)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isLoopbackAddr reports whether a is a TCP address on a loopback IP.
func isLoopbackAddr(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// Bounds of what countRequests remembers: the server is reachable by
// anything on its host (and, through a browser, by web pages), which must
// not grow its memory with made-up paths.
const (
	maxCountedPaths      = 10_000
	maxCountedPathLength = 1 << 10
)

func (i *Issuer) countRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		i.mu.Lock()
		if _, seen := i.requests[p]; seen || len(i.requests) < maxCountedPaths && len(p) <= maxCountedPathLength {
			i.requests[p]++
		}
		i.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// metadata is the discovery document, served for both OpenID Connect and
// RFC 8414. The members after IntrospectionEndpointAuthMethod are those of
// the dev authorization server, omitted without it.
type metadata struct {
	Issuer                          string   `json:"issuer"`
	AuthorizationEndpoint           string   `json:"authorization_endpoint,omitempty"`
	JWKSURI                         string   `json:"jwks_uri"`
	TokenEndpoint                   string   `json:"token_endpoint"`
	IntrospectionEndpoint           string   `json:"introspection_endpoint"`
	GrantTypesSupported             []string `json:"grant_types_supported"`
	TokenEndpointAuthMethods        []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethod []string `json:"introspection_endpoint_auth_methods_supported"`

	RegistrationEndpoint          string   `json:"registration_endpoint,omitempty"`
	ScopesSupported               []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported        []string `json:"response_types_supported,omitempty"`
	ResponseModesSupported        []string `json:"response_modes_supported,omitempty"`
	CodeChallengeMethodsSupported []string `json:"code_challenge_methods_supported,omitempty"`
	IssParameterSupported         bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
}

func (i *Issuer) serveMetadata(w http.ResponseWriter, _ *http.Request) {
	md := metadata{
		Issuer:                          i.issuer,
		JWKSURI:                         i.JWKSURL(),
		TokenEndpoint:                   i.TokenURL(),
		IntrospectionEndpoint:           i.IntrospectionURL(),
		GrantTypesSupported:             []string{grantTypeTokenExchange},
		TokenEndpointAuthMethods:        []string{"client_secret_basic"},
		IntrospectionEndpointAuthMethod: []string{"client_secret_basic"},
	}
	if i.as != nil {
		i.as.describe(&md)
	}
	writeJSON(w, http.StatusOK, md)
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	i.mu.Lock()
	i.jwksFetches++
	down := i.jwksDown
	set := jwkSet{Keys: make([]any, 0, len(i.keys))}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, k.jwk)
	}
	i.mu.Unlock()
	if down {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "JWKS unavailable (SetJWKSAvailable)")
		return
	}
	writeJSON(w, http.StatusOK, set)
}

type jwkSet struct {
	Keys []any `json:"keys"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeOAuthError writes an RFC 6749 §5.2 error response.
func writeOAuthError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="identitytest"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": description})
}

// checkLoopbackAddr refuses a listen address whose host is not a loopback
// IP or "localhost" (an empty host listens on every interface).
func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("listen address %q is not loopback: the test issuer serves only 127.0.0.1, [::1] or localhost", addr)
	}
	return nil
}

// checkLoopbackListener refuses a listener that is not TCP on a loopback
// address.
func checkLoopbackListener(l net.Listener) error {
	a, ok := l.Addr().(*net.TCPAddr)
	if !ok || !a.IP.IsLoopback() {
		return fmt.Errorf("listener on %s is not TCP on a loopback address: the test issuer serves only 127.0.0.1, [::1] or localhost", l.Addr())
	}
	return nil
}
