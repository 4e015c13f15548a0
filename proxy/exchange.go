package proxy

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

// RFC 8693 identifiers.
const (
	grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// Defaults of ExchangeConfig.
const (
	// DefaultExchangeTimeout is the default ExchangeConfig.Timeout.
	DefaultExchangeTimeout = 10 * time.Second
	// DefaultExchangeCacheSize is the default ExchangeConfig.CacheSize.
	DefaultExchangeCacheSize = 10000
	// DefaultExchangeMinTTL is the default ExchangeConfig.MinTTL.
	DefaultExchangeMinTTL = 30 * time.Second
)

// maxTokenResponseBytes bounds the token endpoint's answer.
const maxTokenResponseBytes = 64 << 10

// AuthStyle is how Exchange authenticates to the token endpoint.
type AuthStyle int

const (
	// AuthStyleBasic sends the client id and secret with HTTP Basic
	// authentication, each form-encoded first (RFC 6749 §2.3.1). Every
	// compliant server supports it. This is the default.
	AuthStyleBasic AuthStyle = iota
	// AuthStyleInBody sends client_id and client_secret as form parameters.
	AuthStyleInBody
)

// ExchangeConfig configures an Exchange. TokenURL, ClientID, and Audience or
// Resource are required.
type ExchangeConfig struct {
	// TokenURL is the authorization server's token endpoint. Required; must
	// be https, except for a loopback host or with InsecureAllowHTTP.
	TokenURL string
	// ClientID and ClientSecret authenticate the gateway to the token
	// endpoint, as AuthStyle says. ClientID is required; ClientSecret may be
	// empty for a server that authenticates the client otherwise.
	ClientID, ClientSecret string
	// AuthStyle is how the client credentials are sent. Default
	// AuthStyleBasic.
	AuthStyle AuthStyle
	// Audience is the RFC 8693 "audience" parameter: the logical name of
	// the backend the new token is for. At least one of Audience and
	// Resource is required, so that the new token names its backend.
	Audience string
	// Resource is the RFC 8693 / RFC 8707 "resource" parameter: the
	// backend's URI. Optional when Audience is set.
	Resource string
	// Scopes are requested for the new token ("scope" parameter). Empty
	// means none is sent and the server decides.
	Scopes []string
	// HTTPClient makes the token endpoint calls. Default: a client with
	// bounded dial, TLS and header timeouts. Redirects are never followed,
	// whichever client is given.
	HTTPClient *http.Client
	// Timeout bounds one call to the token endpoint. Default 10s.
	Timeout time.Duration
	// CacheSize is how many exchanged tokens are kept, one per user token.
	// Default 10000. When full, expired entries are dropped first, then
	// arbitrary ones.
	CacheSize int
	// MinTTL is the least lifetime a cached token must have left to be
	// handed out; a token is exchanged again before that. It covers clock
	// skew and the time the backend call takes. A token whose "expires_in"
	// is missing or not above MinTTL is used for one call and not cached.
	// Default 30s.
	MinTTL time.Duration
	// InsecureAllowHTTP allows a plain http TokenURL on a non-loopback
	// host. The client secret and the user's token then cross the network
	// in clear text.
	InsecureAllowHTTP bool
}

// Exchange is a Credential that trades the user's token for one issued for
// the backend, at an RFC 8693 token-exchange endpoint, and sends that.
//
// Exchanged tokens are cached per user token (by its SHA-256; the raw token
// is not kept) until MinTTL before they expire. Concurrent misses for the
// same user token share one request to the token endpoint. One Exchange
// serves one backend (one Audience/Resource), so the audience is part of
// the cache key by construction. An Exchange is safe for concurrent use.
type Exchange struct {
	tokenURL string
	clientID string
	secret   string
	// secretForms are the forms of secret the token endpoint may echo:
	// the Basic credential, form-encoded, as configured.
	secretForms []string
	authStyle   AuthStyle
	form        url.Values // the fixed parameters
	client      *http.Client
	timeout     time.Duration
	minTTL      time.Duration
	cache       *tokenCache
	now         func() time.Time
}

// NewExchange checks cfg and returns an Exchange.
func NewExchange(cfg ExchangeConfig) (*Exchange, error) {
	if _, err := parseEndpoint(cfg.TokenURL, !cfg.InsecureAllowHTTP); err != nil {
		return nil, fmt.Errorf("proxy: ExchangeConfig.TokenURL %w", err)
	}
	if cfg.ClientID == "" {
		return nil, errors.New("proxy: ExchangeConfig.ClientID is required")
	}
	if cfg.Audience == "" && cfg.Resource == "" {
		return nil, errors.New("proxy: ExchangeConfig needs Audience or Resource: the exchanged token must name its backend")
	}
	if cfg.Resource != "" {
		if u, err := url.Parse(cfg.Resource); err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, errors.New("proxy: ExchangeConfig.Resource must be an absolute URI without a fragment (RFC 8707)")
		}
	}
	if cfg.AuthStyle != AuthStyleBasic && cfg.AuthStyle != AuthStyleInBody {
		return nil, fmt.Errorf("proxy: ExchangeConfig.AuthStyle %d is unknown", cfg.AuthStyle)
	}
	if cfg.Timeout < 0 || cfg.CacheSize < 0 || cfg.MinTTL < 0 {
		return nil, errors.New("proxy: ExchangeConfig Timeout, CacheSize and MinTTL must not be negative")
	}
	for _, s := range cfg.Scopes {
		if !scopes.ValidScope(s) {
			return nil, fmt.Errorf("proxy: ExchangeConfig.Scopes has an invalid scope %q", s)
		}
	}

	form := url.Values{
		"grant_type":           {grantTypeTokenExchange},
		"subject_token_type":   {tokenTypeAccessToken},
		"requested_token_type": {tokenTypeAccessToken},
	}
	if cfg.Audience != "" {
		form.Set("audience", cfg.Audience)
	}
	if cfg.Resource != "" {
		form.Set("resource", cfg.Resource)
	}
	if len(cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(cfg.Scopes, " "))
	}
	e := &Exchange{
		tokenURL:  cfg.TokenURL,
		clientID:  cfg.ClientID,
		secret:    cfg.ClientSecret,
		authStyle: cfg.AuthStyle,
		form:      form,
		client:    noRedirects(cfg.HTTPClient),
		timeout:   cmp.Or(cfg.Timeout, DefaultExchangeTimeout),
		minTTL:    cmp.Or(cfg.MinTTL, DefaultExchangeMinTTL),
		now:       time.Now,
	}
	if e.secret != "" {
		if e.authStyle == AuthStyleBasic {
			e.secretForms = append(e.secretForms,
				base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(e.clientID)+":"+url.QueryEscape(e.secret))))
		}
		e.secretForms = append(e.secretForms, url.QueryEscape(e.secret), e.secret)
	}
	// The cache reads the clock through e, so that tests can set it.
	e.cache = newTokenCache(cmp.Or(cfg.CacheSize, DefaultExchangeCacheSize), func() time.Time { return e.now() }, e.exchange)
	return e, nil
}

// Apply sets "Authorization: Bearer" to the backend token for id, from the
// cache or a new exchange. Errors wrap ErrNoIdentity, ErrNoToken,
// ErrExchangeFailed (as *ExchangeError) or the context's error.
func (e *Exchange) Apply(ctx context.Context, req *http.Request, id *identity.Identity) error {
	tok, err := e.Token(ctx, id)
	if err != nil {
		return err
	}
	setBearer(req, tok)
	return nil
}

// Token returns the backend token for id, from the cache or a new exchange,
// for callers that reach the backend other than over HTTP. It is a
// credential: never log it. A cached token is not handed out once the
// user's own token has expired (Identity.ExpiresAt), however long the
// exchanged one lives: from then on each call asks the token endpoint,
// which judges the user's token again.
func (e *Exchange) Token(ctx context.Context, id *identity.Identity) (string, error) {
	subject, err := tokenOf(id)
	if err != nil {
		return "", err
	}
	return e.cache.get(ctx, tokenKey(sha256.Sum256([]byte(subject))), subject, id.ExpiresAt)
}

// tokenResponse is the token endpoint's answer (RFC 8693 §2.2), success or
// error.
type tokenResponse struct {
	AccessToken      string          `json:"access_token"`
	TokenType        string          `json:"token_type"`
	ExpiresIn        json.RawMessage `json:"expires_in"`
	Error            string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// exchange makes one call to the token endpoint.
func (e *Exchange) exchange(ctx context.Context, subject string) (cachedToken, error) {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	start := e.now()

	form := make(url.Values, len(e.form)+3)
	for k, v := range e.form {
		form[k] = v
	}
	form.Set("subject_token", subject)
	if e.authStyle == AuthStyleInBody {
		form.Set("client_id", e.clientID)
		if e.secret != "" {
			form.Set("client_secret", e.secret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return cachedToken{}, &ExchangeError{Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if e.authStyle == AuthStyleBasic {
		req.SetBasicAuth(url.QueryEscape(e.clientID), url.QueryEscape(e.secret))
	}

	resp, err := e.client.Do(req)
	if err != nil {
		return cachedToken{}, &ExchangeError{Err: transportError(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponseBytes+1))
	if err != nil {
		return cachedToken{}, &ExchangeError{Status: resp.StatusCode, Err: fmt.Errorf("read token response: %w", err)}
	}
	if len(body) > maxTokenResponseBytes {
		return cachedToken{}, &ExchangeError{Status: resp.StatusCode, Err: ErrResponseTooLarge}
	}

	var tr tokenResponse
	decodeErr := json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK {
		xe := &ExchangeError{Status: resp.StatusCode}
		if decodeErr == nil {
			xe.Code = oauthErrorCode(tr.Error)
			// The endpoint may echo what it was sent: the subject token
			// and the secret form-encoded, or the Basic header.
			secrets := append([]string{url.QueryEscape(subject), subject}, e.secretForms...)
			xe.Description = snippet(redact([]byte(tr.ErrorDescription), secrets...), errorSnippetLen)
		}
		return cachedToken{}, xe
	}
	if decodeErr != nil {
		return cachedToken{}, &ExchangeError{Status: resp.StatusCode, Err: fmt.Errorf("decode token response: %w", decodeErr)}
	}
	switch {
	case tr.AccessToken == "":
		return cachedToken{}, &ExchangeError{Status: resp.StatusCode, Err: errors.New("token response has no access_token")}
	case !isTokenChars(tr.AccessToken):
		return cachedToken{}, &ExchangeError{Status: resp.StatusCode, Err: errors.New("access_token has characters not allowed in a bearer token")}
	case !strings.EqualFold(tr.TokenType, "bearer"):
		return cachedToken{}, &ExchangeError{Status: resp.StatusCode, Err: fmt.Errorf("token_type %q is not Bearer", snippet([]byte(tr.TokenType), 32))}
	}
	ct := cachedToken{token: tr.AccessToken, useTill: start}
	if secs, ok := parseExpiresIn(tr.ExpiresIn); ok {
		ct.useTill = start.Add(time.Duration(secs)*time.Second - e.minTTL)
	}
	return ct, nil
}

// parseExpiresIn reads "expires_in" as a JSON number or, as some servers
// send it, a quoted number. It reports false when absent or not positive,
// and caps it at a year.
func parseExpiresIn(raw json.RawMessage) (int64, bool) {
	const maxSecs = 365 * 24 * 3600
	s := strings.Trim(string(raw), `"`)
	if s == "" || s == "null" {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 1) {
		return 0, false
	}
	return int64(min(f, maxSecs)), true
}

// oauthErrorCode keeps an OAuth error code only if it is one of the codes
// registered for token endpoints and resources (oauthErrorCodes). Any other
// text is dropped: an endpoint that echoes its input there could put the
// user's token, or a piece of it, in an error that is logged.
func oauthErrorCode(s string) string {
	if oauthErrorCodes[s] {
		return s
	}
	return ""
}

// oauthErrorCodes are the error codes a token endpoint may send, from
// IANA's OAuth Extensions Error Registry: RFC 6749 §5.2, RFC 8693 §2.2.2,
// RFC 6750 §3.1, RFC 7009, RFC 9449 and OpenID Connect Core.
var oauthErrorCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true,
	"invalid_target": true, "access_denied": true, "server_error": true,
	"temporarily_unavailable": true, "invalid_token": true, "insufficient_scope": true,
	"unsupported_token_type": true, "invalid_dpop_proof": true, "use_dpop_nonce": true,
	"invalid_authorization_details": true, "interaction_required": true,
	"login_required": true, "consent_required": true,
}

// isTokenChars reports whether s has only visible ASCII, as a bearer token
// in a header must.
func isTokenChars(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// redact replaces every occurrence of each non-empty secret in b with
// "[redacted]", as it is or written with escapes (redactEscaped). It
// returns b itself when nothing matched.
func redact(b []byte, secrets ...string) []byte {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if bytes.Contains(b, []byte(s)) {
			b = bytes.ReplaceAll(b, []byte(s), []byte("[redacted]"))
		}
		b = redactEscaped(b, s)
	}
	return b
}
