package identity

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults of JWTConfig.
const (
	defaultLeeway             = 30 * time.Second
	maxLeeway                 = 5 * time.Minute
	defaultFetchTimeout       = 5 * time.Second
	defaultMaxResponseBytes   = 1 << 20
	defaultRefreshInterval    = time.Hour
	defaultUnknownKIDInterval = time.Minute
	defaultCacheSize          = 10000
)

// asymmetricAlgorithms are the JWS algorithms a JWTVerifier can accept, and
// its default allow-list.
var asymmetricAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// defaultScopeClaims are the claims scopes are read from by default.
var defaultScopeClaims = []string{"scope", "scp", "permissions"}

// JWTConfig configures NewJWTVerifier. Issuer and Audiences are required;
// every other field has a secure default.
type JWTConfig struct {
	// Issuer is the authorization server whose tokens are accepted: a
	// token's "iss" must equal it. One normalisation applies, to both sides:
	// a single trailing "/" is removed, so "https://t.auth0.com/" (as Auth0
	// writes it) and "https://t.auth0.com" are the same issuer; nothing else
	// (case, default port, path) is normalised. Identity.Issuer keeps the
	// token's own value. Required; when JWKSURL is empty it must be an
	// absolute https URL (see InsecureAllowHTTP), since keys are
	// discovered from it.
	Issuer string

	// Audiences are the identifiers of this resource server (for an MCP
	// server, its canonical URL). A token is accepted when its "aud" names
	// at least one of them, or one of them with a trailing "/" added or
	// removed. A token without "aud" is refused with ErrMissingClaim, one
	// that names none of them with ErrBadAudience. Required: an empty list
	// is a configuration error.
	Audiences []string

	// JWKSURL is the URL of the issuer's JWK Set. Default (empty): the
	// "jwks_uri" of the issuer's discovery document, read from
	// "<issuer>/.well-known/openid-configuration" and, failing that, from
	// the RFC 8414 "/.well-known/oauth-authorization-server<issuer path>";
	// the document's "issuer" must match Issuer. Keys are taken from this
	// one URL only: "jku", "x5u", "jwk" and "x5c" token headers are never
	// followed. HTTP Basic credentials in its user info are sent; errors
	// show the password as "***".
	JWKSURL string

	// Algorithms is the allow-list of JWS algorithms. A token whose "alg"
	// is not listed is refused (ErrBadAlgorithm) before any key is looked
	// up. Default: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384,
	// ES512 and EdDSA. Only those are supported: "none" and the symmetric
	// HS256/HS384/HS512 are refused at construction, since a JWKS cannot
	// publish a shared secret and accepting HS* is how algorithm-confusion
	// forgeries get in.
	Algorithms []string

	// Leeway is the clock skew allowed when checking "exp", "nbf" and
	// "iat". Zero means the default, 30 seconds; a negative value means no
	// leeway. More than 5 minutes is a configuration error.
	Leeway time.Duration

	// RequireType, when set, is the "typ" header every token must carry,
	// such as "at+jwt" (RFC 9068 §2.1). The comparison ignores case and an
	// "application/" prefix. Default (empty): "typ" is not checked, since
	// many providers send "JWT".
	RequireType string

	// ScopeClaims are the claims read into Identity.Scopes, as their union.
	// Each may be a space-separated string (only spaces separate: a tab,
	// a line break or a Unicode space is part of the scope it is in) or an
	// array of strings; any other type makes the token malformed. Default (empty): "scope"
	// (RFC 9068), "scp" (Entra ID, Okta) and "permissions" (Auth0).
	ScopeClaims []string

	// HTTPClient fetches discovery documents and the JWKS. Default: a client
	// with FetchTimeout as its timeout and a transport of its own that
	// keeps no idle connection (fetches are minutes or hours apart: a
	// connection kept open in between only holds two goroutines and their
	// buffers for the garbage collector to scan). Whatever the client, every fetch is
	// bounded by FetchTimeout and MaxResponseBytes, and a fetch that starts
	// over https never follows a redirect to plain http (nor does a
	// discovered jwks_uri drop to http when the issuer uses https).
	HTTPClient *http.Client

	// FetchTimeout bounds each HTTP request for discovery or the JWKS.
	// Default 5 seconds.
	FetchTimeout time.Duration

	// MaxResponseBytes bounds the size of a discovery document or JWKS;
	// a larger response is a failed fetch. Default 1 MiB.
	MaxResponseBytes int64

	// RefreshInterval is how old the cached keys may get before a request
	// triggers a refresh in the background; the cached keys keep serving
	// meanwhile, and if the refresh fails, until the issuer is back.
	// Default 1 hour.
	RefreshInterval time.Duration

	// UnknownKIDInterval spaces the refetches that tokens with an unknown
	// "kid" may cause: at most one fetch per interval, so that tokens with
	// made-up kids cannot make the verifier hammer the issuer. A token
	// whose kid is unknown while this interval runs is refused at once with
	// ErrUnknownKey, or with ErrKeysUnavailable when the last fetch failed
	// (the keys may have rotated during the outage: the token cannot be
	// judged). When no key could be fetched yet (cold start), fetches are
	// retried at most once per second instead (or per this interval if
	// shorter). Default 1 minute.
	UnknownKIDInterval time.Duration

	// CacheSize is the number of verified tokens remembered, so that a
	// token presented again costs a hash and a map lookup instead of a
	// signature check. An entry never outlives its token's "exp", nor the
	// key it was verified with: once a refresh of the keys (at most
	// RefreshInterval apart, cache hits included) no longer publishes that
	// key for the token's kid and alg, the token is verified again, and
	// refused. Zero means the default, 10000; a negative value disables
	// the cache.
	CacheSize int

	// InsecureAllowMissingExpiry accepts tokens without an "exp" claim,
	// which then never expire (and are not cached). Default false: a token
	// without "exp" is refused with ErrMissingClaim.
	InsecureAllowMissingExpiry bool

	// InsecureAllowHTTP allows fetching the discovery document and the
	// keys over plain http from a host that is not loopback. Whoever is on
	// the path could then substitute keys, and forge any token: set it
	// only for a network that is private end to end. Default false: the
	// Issuer (when keys are discovered from it), JWKSURL and a discovered
	// jwks_uri must be https, except on a loopback host.
	InsecureAllowHTTP bool

	// InsecureAcceptBoundTokens accepts sender-constrained tokens, those
	// with a "cnf" claim (DPoP or mutual-TLS bound), as bearer tokens,
	// without checking the key they are bound to. Set it only when
	// something in front of this server checks that binding on every
	// request. Default false: such a token is refused with ErrBoundToken,
	// since anyone holding a copy could use it as a bearer token.
	InsecureAcceptBoundTokens bool

	// UserID, when set, maps a verified identity to the application's user
	// id, stored in Identity.UserID (for example, a lookup by Subject in a
	// user table). It is called once per verified token, not on cache
	// hits. An error that wraps one of this package's sentinel errors (say
	// ErrVerifierUnavailable when the lookup itself failed) is returned as
	// is; any other error, or an empty id, refuses the token with
	// ErrInactive. Default: UserID is the Subject.
	UserID func(*Identity) (string, error)

	// Now returns the current time, for the time claims, the cache and the
	// fetch intervals. Default time.Now; tests set a fake clock.
	Now func() time.Time
}

// jwtSettings is a validated JWTConfig with its defaults filled in.
type jwtSettings struct {
	JWTConfig
	audiences   map[string]bool // each accepted audience and its slash variant
	requireType string          // normalised by normaliseType
}

// settings validates c and fills in its defaults.
func (c JWTConfig) settings() (*jwtSettings, error) {
	s := &jwtSettings{JWTConfig: c}
	if c.Issuer == "" {
		return nil, fmt.Errorf("JWTConfig.Issuer is required: set it to the authorization server's issuer identifier")
	}
	if c.JWKSURL == "" {
		if err := checkFetchURL(c.Issuer, c.InsecureAllowHTTP); err != nil {
			return nil, fmt.Errorf("JWTConfig.Issuer %q: %w (or set JWTConfig.JWKSURL)", shownURL(c.Issuer), err)
		}
	} else if err := checkFetchURL(c.JWKSURL, c.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("JWTConfig.JWKSURL %q: %w", shownURL(c.JWKSURL), err)
	}

	if len(c.Audiences) == 0 {
		return nil, fmt.Errorf("JWTConfig.Audiences is required: set it to this resource's identifier (for an MCP server, its URL)")
	}
	s.audiences = make(map[string]bool, 2*len(c.Audiences))
	for _, a := range c.Audiences {
		if a == "" || a == "/" {
			return nil, fmt.Errorf("JWTConfig.Audiences: empty audience")
		}
		s.audiences[a] = true
		if trimmed, ok := strings.CutSuffix(a, "/"); ok {
			s.audiences[trimmed] = true
		} else {
			s.audiences[a+"/"] = true
		}
	}

	if len(c.Algorithms) == 0 {
		s.Algorithms = asymmetricAlgorithms
	}
	for _, alg := range s.Algorithms {
		switch {
		case strings.HasPrefix(alg, "HS"):
			return nil, fmt.Errorf("JWTConfig.Algorithms: %s is symmetric; only asymmetric algorithms are supported (%s)", alg, strings.Join(asymmetricAlgorithms, ", "))
		case !slices.Contains(asymmetricAlgorithms, alg):
			return nil, fmt.Errorf("JWTConfig.Algorithms: %q is not supported (want some of %s)", alg, strings.Join(asymmetricAlgorithms, ", "))
		}
	}
	s.Algorithms = slices.Clone(s.Algorithms)

	switch {
	case c.Leeway == 0:
		s.Leeway = defaultLeeway
	case c.Leeway < 0:
		s.Leeway = 0
	case c.Leeway > maxLeeway:
		return nil, fmt.Errorf("JWTConfig.Leeway %v is more than %v", c.Leeway, maxLeeway)
	}

	s.requireType = normaliseType(c.RequireType)
	if len(c.ScopeClaims) == 0 {
		s.ScopeClaims = defaultScopeClaims
	}
	s.ScopeClaims = slices.Clone(s.ScopeClaims)

	if c.FetchTimeout < 0 || c.MaxResponseBytes < 0 || c.RefreshInterval < 0 || c.UnknownKIDInterval < 0 {
		return nil, fmt.Errorf("JWTConfig: FetchTimeout, MaxResponseBytes, RefreshInterval and UnknownKIDInterval must not be negative")
	}
	if c.FetchTimeout == 0 {
		s.FetchTimeout = defaultFetchTimeout
	}
	if c.MaxResponseBytes == 0 {
		s.MaxResponseBytes = defaultMaxResponseBytes
	}
	if c.RefreshInterval == 0 {
		s.RefreshInterval = defaultRefreshInterval
	}
	if c.UnknownKIDInterval == 0 {
		s.UnknownKIDInterval = defaultUnknownKIDInterval
	}
	if c.HTTPClient == nil {
		s.HTTPClient = &http.Client{Timeout: s.FetchTimeout, Transport: fetchTransport()}
	}
	s.HTTPClient = noDowngrade(s.HTTPClient, c.InsecureAllowHTTP)
	switch {
	case c.CacheSize == 0:
		s.CacheSize = defaultCacheSize
	case c.CacheSize < 0:
		s.CacheSize = 0
	}
	if c.Now == nil {
		s.Now = time.Now
	}
	return s, nil
}

// checkFetchURL reports whether s is an absolute http(s) URL that keys or
// metadata may be fetched from: https, or plain http for a loopback host
// or when allowHTTP (InsecureAllowHTTP) says so. Keys fetched in the clear
// could be substituted on the way, and any token then forged.
func checkFetchURL(s string, allowHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %w", urlParseError(s, err))
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("not an absolute http or https URL")
	}
	if u.Scheme == "http" && !allowHTTP && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("must use https (plain http is allowed for a loopback host, or with InsecureAllowHTTP)")
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

// noDowngrade returns a copy of c (sharing its Transport) whose redirects
// obey the rule the configured URLs do (checkFetchURL: https, or plain
// http for a loopback host or with allowHTTP) and never go from https to
// another scheme, then applies c's own redirect policy (by default, at
// most 10 redirects).
func noDowngrade(c *http.Client, allowHTTP bool) *http.Client {
	cc := *c
	policy := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("redirect from https to %s refused", req.URL.Scheme)
		}
		if err := checkFetchURL(req.URL.String(), allowHTTP); err != nil {
			return fmt.Errorf("redirect to %s refused: %w", displayFetchURL(req.URL), err)
		}
		if policy != nil {
			return policy(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// displayFetchURL returns u without user info or query, for an error.
func displayFetchURL(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.ForceQuery, v.Fragment = nil, "", false, ""
	return v.String()
}

// shownURL returns s for an error message: with the password of its user
// info replaced by "***", as net/http's client writes a URL in the errors
// it returns. A URL may carry HTTP Basic credentials there (the client
// sends them), and the errors of a fetch reach the logs on every request
// it fails. s is returned as it is when it has no password. A URL that does
// not parse (refused by the constructors, whose error quotes it) has what
// lies between the first ":" after "//" and the last "@" before any "?"
// or "#" masked, as the password it would be.
func shownURL(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return maskUnparsedPassword(s)
	}
	if _, ok := u.User.Password(); !ok {
		return s
	}
	return strings.Replace(u.String(), u.User.String()+"@", u.User.Username()+":***@", 1)
}

// maskUnparsedPassword is shownURL for a URL that does not parse: a
// password with a raw "%" or "/" is often why.
func maskUnparsedPassword(s string) string {
	i := strings.Index(s, "//")
	if i < 0 {
		return s
	}
	start := i + 2
	end := len(s)
	if j := strings.IndexAny(s[start:], "?#"); j >= 0 {
		end = start + j
	}
	at := strings.LastIndex(s[start:end], "@")
	if at < 0 {
		return s
	}
	colon := strings.Index(s[start:start+at], ":")
	if colon < 0 {
		return s
	}
	return s[:start+colon+1] + "***" + s[start+at:]
}

// urlParseError is err, url.Parse's error for s, fit for an error
// message: url.Parse quotes s whole, password included, so that error is
// replaced by one that quotes shownURL(s); and when s has a password, the
// detail (which may quote a piece of it, such as a bad "%" escape) is left
// out.
func urlParseError(s string, err error) error {
	shown := shownURL(s)
	if shown == s {
		return err
	}
	return fmt.Errorf("parse %q: malformed URL (detail withheld: it may quote the password)", shown)
}

// normaliseIssuer applies the one issuer normalisation: remove a single
// trailing "/".
func normaliseIssuer(iss string) string { return strings.TrimSuffix(iss, "/") }

// normaliseType lower-cases a "typ" value and removes an "application/"
// prefix (RFC 7515 §4.1.9).
func normaliseType(typ string) string {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/")
}

// fetchTransport is the default client's transport: http.DefaultTransport's
// settings (proxy from the environment, dial and TLS timeouts) without
// keep-alive.
func fetchTransport() http.RoundTripper {
	t, ok := http.DefaultTransport.(*http.Transport)
	if !ok { // replaced by the program: use what it chose
		return http.DefaultTransport
	}
	t = t.Clone()
	t.DisableKeepAlives = true
	return t
}
