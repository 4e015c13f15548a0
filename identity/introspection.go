package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/idgate/idgate/scopes"
)

// IntrospectionConfig configures NewIntrospectionVerifier.
type IntrospectionConfig struct {
	// Endpoint is the authorization server's RFC 7662 introspection
	// endpoint, an absolute https URL (plain http for a loopback host, or
	// with InsecureAllowHTTP). Required. Errors show a password in its
	// user info as "***".
	Endpoint string

	// InsecureAllowHTTP allows a plain http Endpoint on a host that is not
	// loopback. Every request then carries the client secret and a user's
	// token in clear: set it only for a network that is private end to
	// end. Default false.
	InsecureAllowHTTP bool

	// ClientID and ClientSecret authenticate this resource server to the
	// endpoint with HTTP Basic (RFC 7662 §2.1, encoded per RFC 6749
	// §2.3.1). Both required.
	ClientID, ClientSecret string

	// Issuer is the authorization server whose tokens are accepted: the
	// response's "iss" must equal it, and a response without "iss" is
	// refused (ErrMissingClaim). Both sides are compared after trimming one
	// trailing "/", the same rule as the JWT verifier. Required, unless
	// InsecureSkipIssuerCheck is set.
	Issuer string

	// InsecureSkipIssuerCheck accepts responses whatever their "iss", or
	// without one (RFC 7662 makes it optional, and some servers never send
	// it): the endpoint is then trusted to speak for one issuer only. Set
	// it only for such a server, and leave Issuer empty. Default: false.
	InsecureSkipIssuerCheck bool

	// Audiences lists the accepted audiences: the response's "aud" (string
	// or array) must contain one of them, compared after trimming one
	// trailing "/". Required: a token meant for another resource must not
	// be accepted here. A response without "aud" is refused
	// (ErrMissingClaim) unless InsecureAllowMissingAudience is set.
	Audiences []string

	// InsecureAllowMissingAudience accepts an active token whose
	// introspection response has no "aud" (RFC 7662 makes it optional, and
	// some servers never send it). A response that has "aud" must still
	// name one of Audiences. It gives up the check that the token was
	// issued for this resource. Default: false.
	InsecureAllowMissingAudience bool

	// InsecureAcceptBoundTokens accepts sender-constrained tokens (a
	// response with "cnf", or "token_type" DPoP) as bearer tokens, without
	// checking the key they are bound to, as in JWTConfig. Default false:
	// they are refused with ErrBoundToken.
	InsecureAcceptBoundTokens bool

	// ScopeClaims names the response members whose union is the Identity's
	// scopes: a space-separated string (only spaces separate, as in
	// JWTConfig.ScopeClaims) or an array of strings each.
	// Default: "scope", "scp", "permissions".
	ScopeClaims []string

	// Leeway is the clock skew allowed when checking "exp" and "nbf", as
	// in JWTConfig. Zero means the default, 30 seconds; a negative value
	// means no leeway. More than 5 minutes is a configuration error.
	Leeway time.Duration

	// HTTPClient makes the introspection requests. Default: a client that
	// uses http.DefaultTransport. Whichever client is given, redirects are
	// not followed (the request carries the client secret and the user's
	// token): a copy is used with its CheckRedirect replaced.
	HTTPClient *http.Client

	// Timeout bounds each introspection request. Default (zero): 5s.
	Timeout time.Duration

	// MaxResponseBytes bounds the response body read; a larger body makes
	// the verifier unavailable. Default (zero): 64 KiB.
	MaxResponseBytes int64

	// CacheTTL is the longest time an active result is cached, and never
	// beyond the token's "exp". Inactive and failed results are never
	// cached. A revoked token stays accepted for at most this long after its
	// last successful introspection. Default (zero): 60s. Negative disables
	// the cache: every request is introspected.
	CacheTTL time.Duration

	// CacheSize bounds the number of cached tokens. Zero means the default,
	// 10000; a negative value disables the cache.
	CacheSize int

	// UserID, when set, maps a verified identity to the application's user
	// id, stored in Identity.UserID. It is called once per introspection,
	// not on cache hits. As in JWTConfig, an error that wraps one of this
	// package's sentinel errors (say ErrVerifierUnavailable when the lookup
	// itself failed) is returned as is; any other error, or an empty id,
	// refuses the token with ErrInactive. Default: UserID is the Subject.
	UserID func(*Identity) (string, error)

	// Now returns the current time, for "exp", "nbf" and the cache.
	// Default time.Now; tests set a fake clock.
	Now func() time.Time
}

// Defaults of IntrospectionConfig.
const (
	defaultIntrospectionTimeout = 5 * time.Second
	defaultIntrospectionMaxBody = 64 << 10
	defaultIntrospectionTTL     = 60 * time.Second
)

// IntrospectionVerifier is a Verifier for opaque tokens: it asks the
// authorization server's RFC 7662 endpoint about each token, checks the
// answer (active, expiry, issuer, audience, subject), and caches active
// results briefly. It fails closed: when the endpoint cannot be reached or
// answers with anything but a well-formed 200, Verify returns an error
// wrapping ErrVerifierUnavailable (the middleware answers 503).
//
// It is safe for concurrent use.
type IntrospectionVerifier struct {
	endpoint    string
	shown       string   // endpoint for errors (shownURL)
	basicAuth   string   // "Basic ..." header value
	issuer      string   // normalised; empty: not checked (InsecureSkipIssuerCheck)
	audiences   []string // trimmed of one trailing "/"
	configured  []string // IntrospectionConfig.Audiences, for Audiences
	allowNoAud  bool
	acceptBound bool
	scopeClaims []string
	leeway      time.Duration
	client      *http.Client
	timeout     time.Duration
	maxBody     int64
	ttl         time.Duration // <= 0: no cache
	cache       *tokenCache   // nil: disabled
	userID      func(*Identity) (string, error)
	now         func() time.Time
}

// NewIntrospectionVerifier validates cfg and returns a verifier. It makes no
// request: the endpoint is first called by Verify.
func NewIntrospectionVerifier(cfg IntrospectionConfig) (*IntrospectionVerifier, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("identity: IntrospectionConfig.Endpoint is required")
	}
	if err := checkAbsoluteURL(cfg.Endpoint); err != nil {
		return nil, fmt.Errorf("identity: IntrospectionConfig.Endpoint: %w", err)
	}
	if err := checkFetchURL(cfg.Endpoint, cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("identity: IntrospectionConfig.Endpoint %q: %w", shownURL(cfg.Endpoint), err)
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("identity: IntrospectionConfig.ClientID and ClientSecret are required (RFC 7662: the resource server authenticates to the endpoint)")
	}
	switch {
	case cfg.Issuer != "" && cfg.InsecureSkipIssuerCheck:
		return nil, errors.New("identity: IntrospectionConfig.Issuer and InsecureSkipIssuerCheck are both set: set Issuer to check \"iss\", or only InsecureSkipIssuerCheck not to")
	case cfg.InsecureSkipIssuerCheck:
	case normaliseIssuer(cfg.Issuer) == "":
		return nil, errors.New("identity: IntrospectionConfig.Issuer is required: set it to the authorization server's issuer identifier (the \"iss\" of its introspection responses), or set InsecureSkipIssuerCheck if they carry none")
	}
	if len(cfg.Audiences) == 0 {
		return nil, errors.New("identity: IntrospectionConfig.Audiences is required: set it to this resource's identifier (for MCP, the server URL)")
	}
	for _, a := range cfg.Audiences {
		if a == "" || a == "/" {
			return nil, errors.New("identity: IntrospectionConfig.Audiences: empty audience")
		}
	}
	if cfg.Leeway > maxLeeway {
		return nil, fmt.Errorf("identity: IntrospectionConfig.Leeway %v is more than %v", cfg.Leeway, maxLeeway)
	}
	if cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 {
		return nil, errors.New("identity: IntrospectionConfig: Timeout and MaxResponseBytes must not be negative")
	}
	v := &IntrospectionVerifier{
		endpoint:    cfg.Endpoint,
		shown:       shownURL(cfg.Endpoint),
		basicAuth:   introspectionBasicAuth(cfg.ClientID, cfg.ClientSecret),
		issuer:      normaliseIssuer(cfg.Issuer),
		configured:  slices.Clone(cfg.Audiences),
		allowNoAud:  cfg.InsecureAllowMissingAudience,
		acceptBound: cfg.InsecureAcceptBoundTokens,
		scopeClaims: slices.Clone(cfg.ScopeClaims),
		leeway:      cfg.Leeway,
		client:      cfg.HTTPClient,
		timeout:     cfg.Timeout,
		maxBody:     cfg.MaxResponseBytes,
		ttl:         cfg.CacheTTL,
		userID:      cfg.UserID,
		now:         cfg.Now,
	}
	switch {
	case v.leeway == 0:
		v.leeway = defaultLeeway
	case v.leeway < 0:
		v.leeway = 0
	}
	if v.now == nil {
		v.now = time.Now
	}
	for _, a := range cfg.Audiences {
		v.audiences = append(v.audiences, strings.TrimSuffix(a, "/"))
	}
	if len(v.scopeClaims) == 0 {
		v.scopeClaims = defaultScopeClaims
	}
	// No redirect is followed, whatever the client: a 307 or 308 would
	// post the user's token and the client secret again, to wherever the
	// answer names. A redirect is a 3xx answer, refused as unavailable.
	client := http.Client{}
	if v.client != nil {
		client = *v.client
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	v.client = &client
	if v.timeout == 0 {
		v.timeout = defaultIntrospectionTimeout
	}
	if v.maxBody == 0 {
		v.maxBody = defaultIntrospectionMaxBody
	}
	if v.ttl == 0 {
		v.ttl = defaultIntrospectionTTL
	}
	if v.ttl > 0 && cfg.CacheSize >= 0 {
		size := cfg.CacheSize
		if size == 0 {
			size = defaultCacheSize
		}
		v.cache = newTokenCache(size)
	}
	return v, nil
}

// Audiences returns IntrospectionConfig.Audiences: it implements
// AudienceReporter.
func (v *IntrospectionVerifier) Audiences() []string { return slices.Clone(v.configured) }

// Verify introspects token and returns the identity it stands for. Errors
// wrap ErrInactive (not active), ErrExpired, ErrNotYetValid,
// ErrMissingClaim, ErrBadIssuer or ErrBadAudience when the token is judged
// bad, and ErrVerifierUnavailable when it could not be judged. They never
// contain the token.
func (v *IntrospectionVerifier) Verify(ctx context.Context, token string) (*Identity, error) {
	if token == "" {
		return nil, ErrMissingToken
	}
	now := v.now()
	if id, ok := v.cache.get(token, now); ok {
		return id, nil
	}
	resp, err := v.introspect(ctx, token)
	if err != nil {
		return nil, err
	}
	// A copy, as in JWTVerifier.Verify: token may be a slice of a much
	// longer header.
	token = strings.Clone(token)
	id, err := v.identity(resp, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		until := now.Add(v.ttl)
		if !id.ExpiresAt.IsZero() && id.ExpiresAt.Before(until) {
			until = id.ExpiresAt
		}
		v.cache.put(token, id, until)
	}
	return id, nil
}

// introspect posts token to the endpoint and returns the decoded response of
// an active token.
func (v *IntrospectionVerifier) introspect(ctx context.Context, token string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.endpoint, strings.NewReader(form))
	if err != nil {
		return nil, fmt.Errorf("identity: introspection request: %w: %w", ErrVerifierUnavailable, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", v.basicAuth)
	res, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("identity: introspect at %s: %w: %w", v.shown, ErrVerifierUnavailable, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, v.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("identity: introspect at %s: read response: %w: %w", v.shown, ErrVerifierUnavailable, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("identity: introspect at %s: status %d: %w", v.shown, res.StatusCode, ErrVerifierUnavailable)
	}
	if int64(len(body)) > v.maxBody {
		return nil, fmt.Errorf("identity: introspect at %s: response larger than %d bytes: %w", v.shown, v.maxBody, ErrVerifierUnavailable)
	}
	var resp map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&resp); err != nil || resp == nil {
		return nil, fmt.Errorf("identity: introspect at %s: response is not a JSON object: %w", v.shown, ErrVerifierUnavailable)
	}
	active, ok := resp["active"].(bool)
	if !ok {
		return nil, fmt.Errorf("identity: introspect at %s: response lacks a boolean \"active\": %w", v.shown, ErrVerifierUnavailable)
	}
	if !active {
		return nil, fmt.Errorf("identity: introspection: %w", ErrInactive)
	}
	return resp, nil
}

// identity checks the response of an active token and builds its Identity.
func (v *IntrospectionVerifier) identity(resp map[string]any, token string, now time.Time) (*Identity, error) {
	id := Identity{Claims: resp}.WithToken(token)
	var err error
	str := func(name string) string {
		if err != nil {
			return ""
		}
		s, e := introspectedString(resp, name)
		if e != nil {
			err = e
		}
		return s
	}
	tm := func(name string) time.Time {
		if err != nil {
			return time.Time{}
		}
		t, e := introspectedTime(resp, name)
		if e != nil {
			err = e
		}
		return t
	}
	id.Subject = str("sub")
	id.Issuer = str("iss")
	id.ClientID = str("client_id")
	if id.ClientID == "" {
		id.ClientID = str("azp")
	}
	id.Email = str("email")
	id.Name = str("name")
	id.TokenID = str("jti")
	id.IssuedAt = tm("iat")
	id.NotBefore = tm("nbf")
	id.ExpiresAt = tm("exp")
	if err != nil {
		return nil, err
	}
	if id.Audience, err = introspectedStrings(resp, "aud"); err != nil {
		return nil, err
	}
	if err := v.checkKind(resp); err != nil {
		return nil, err
	}
	if !id.ExpiresAt.IsZero() && now.After(id.ExpiresAt.Add(v.leeway)) {
		return nil, fmt.Errorf("identity: introspection: expired at %s: %w", id.ExpiresAt.UTC().Format(time.RFC3339), ErrExpired)
	}
	if !id.NotBefore.IsZero() && now.Add(v.leeway).Before(id.NotBefore) {
		return nil, fmt.Errorf("identity: introspection: valid from %s: %w", id.NotBefore.UTC().Format(time.RFC3339), ErrNotYetValid)
	}
	if v.issuer != "" {
		if id.Issuer == "" {
			return nil, fmt.Errorf("identity: introspection: no \"iss\": %w", ErrMissingClaim)
		}
		if normaliseIssuer(id.Issuer) != v.issuer {
			return nil, fmt.Errorf("identity: introspection: issuer %q: %w", id.Issuer, ErrBadIssuer)
		}
	}
	if len(id.Audience) == 0 {
		if !v.allowNoAud {
			return nil, fmt.Errorf("identity: introspection: no \"aud\": %w", ErrMissingClaim)
		}
	} else if !v.audienceAccepted(id.Audience) {
		return nil, fmt.Errorf("identity: introspection: audience %q: %w", id.Audience, ErrBadAudience)
	}
	if id.Subject == "" {
		return nil, fmt.Errorf("identity: introspection: no \"sub\": %w", ErrMissingClaim)
	}
	var all []string
	for _, name := range v.scopeClaims {
		list, err := introspectedStrings(resp, name)
		if err != nil {
			return nil, err
		}
		if s, ok := resp[name].(string); ok {
			// A string is a space-separated list; an array's items
			// are scopes each, as the JWT verifier reads them.
			all = appendScopeTokens(all, s)
			continue
		}
		all = append(all, list...)
	}
	id.Scopes = scopes.Of(all...)
	id.UserID = id.Subject
	if v.userID != nil {
		uid, err := v.userID(id)
		switch {
		case err != nil && wrapsSentinel(err):
			return nil, err
		case err != nil:
			return nil, fmt.Errorf("identity: introspection: UserID hook: %v: %w", err, ErrInactive)
		case uid == "":
			return nil, fmt.Errorf("identity: introspection: UserID hook returned an empty id: %w", ErrInactive)
		}
		id.UserID = uid
	}
	return id, nil
}

// checkKind refuses the response of a token that is not a bearer access
// token. RFC 7662 lets an endpoint introspect any token it issued, and some
// answer "active" for refresh tokens and ID tokens too (the hint this
// verifier sends is only a hint); what they call the token differs:
//
//   - "token_type" (RFC 7662 §2.2): "Bearer" or "access_token" (and the RFC
//     8693 type URIs of an access token or JWT) are access tokens; "DPoP"
//     is a sender-constrained one (ErrBoundToken); anything else, say
//     "refresh_token", is refused.
//   - "token_use" (Ory Hydra, Amazon Cognito): only "access_token" or
//     "access".
//   - "typ" (Keycloak): "Refresh", "Offline", "ID" and "Logout" name other
//     tokens; other values are not a token kind this can judge.
//
// A response with "cnf" is a sender-constrained token (ErrBoundToken).
func (v *IntrospectionVerifier) checkKind(resp map[string]any) error {
	tokenType, err := introspectedString(resp, "token_type")
	if err != nil {
		return err
	}
	switch strings.ToLower(tokenType) {
	case "", "bearer", "access_token", "urn:ietf:params:oauth:token-type:access_token", "urn:ietf:params:oauth:token-type:jwt":
	case "dpop":
		if !v.acceptBound {
			return fmt.Errorf("identity: introspection: token_type %s: %w", quoteValue(tokenType), ErrBoundToken)
		}
	default:
		return fmt.Errorf("identity: introspection: token_type %s is not an access token: %w", quoteValue(tokenType), ErrBadType)
	}
	// "token_use" and "typ" are not RFC 7662's: a value that is not a
	// string names no kind, and is left alone.
	use, _ := resp["token_use"].(string)
	switch strings.ToLower(use) {
	case "", "access_token", "access":
	default:
		return fmt.Errorf("identity: introspection: token_use %s is not an access token: %w", quoteValue(use), ErrBadType)
	}
	typ, _ := resp["typ"].(string)
	switch strings.ToLower(typ) {
	case "refresh", "offline", "id", "logout":
		return fmt.Errorf("identity: introspection: typ %s is not an access token: %w", quoteValue(typ), ErrBadType)
	}
	if _, bound := resp["cnf"]; bound && !v.acceptBound {
		return fmt.Errorf("identity: introspection: cnf present: %w", ErrBoundToken)
	}
	return nil
}

func (v *IntrospectionVerifier) audienceAccepted(aud []string) bool {
	for _, a := range aud {
		a = strings.TrimSuffix(a, "/")
		for _, want := range v.audiences {
			if a == want {
				return true
			}
		}
	}
	return false
}

// introspectionBasicAuth encodes id and secret for HTTP Basic as RFC 6749 §2.3.1
// asks: each form-urlencoded first.
func introspectionBasicAuth(id, secret string) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

// introspectedString returns the string member name of m, "" when absent.
func introspectedString(m map[string]any, name string) (string, error) {
	switch x := m[name].(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	default:
		return "", fmt.Errorf("identity: introspection: %q is not a string: %w", name, ErrVerifierUnavailable)
	}
}

// introspectedStrings returns the member name of m, a string or an array of
// strings, as a list; nil when absent.
func introspectedStrings(m map[string]any, name string) ([]string, error) {
	switch x := m[name].(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("identity: introspection: %q holds a non-string: %w", name, ErrVerifierUnavailable)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fmt.Errorf("identity: introspection: %q is neither a string nor an array: %w", name, ErrVerifierUnavailable)
	}
}

// introspectedTime returns the NumericDate member name of m; zero when
// absent. A number beyond maxNumericDate either way is no time (converted,
// it would overflow into one long past) and makes the response malformed.
func introspectedTime(m map[string]any, name string) (time.Time, error) {
	switch x := m[name].(type) {
	case nil:
		return time.Time{}, nil
	case float64:
		if x > maxNumericDate || x < -maxNumericDate {
			return time.Time{}, fmt.Errorf("identity: introspection: %q is out of range: %w", name, ErrVerifierUnavailable)
		}
		sec := int64(x)
		return time.Unix(sec, int64((x-float64(sec))*1e9)), nil
	default:
		return time.Time{}, fmt.Errorf("identity: introspection: %q is not a number: %w", name, ErrVerifierUnavailable)
	}
}

// remembered implements tokenMemory: Verify's cache hit, alone.
func (v *IntrospectionVerifier) remembered(token string) (*Identity, bool) {
	if token == "" {
		return nil, false
	}
	return v.cache.get(token, v.now())
}
