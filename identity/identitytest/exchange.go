package identitytest

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// RFC 8693 identifiers.
const (
	grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
)

// Exchanges returns how many token exchanges succeeded (tokens issued).
func (i *Issuer) Exchanges() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.exchanges
}

// SetTokenEndpointAvailable sets whether the token endpoint answers. When
// false it answers 503. Default true.
func (i *Issuer) SetTokenEndpointAvailable(ok bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.tokenEndpointDown = !ok
}

// exchangeResponse is the RFC 8693 §2.2.1 success response.
type exchangeResponse struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int64  `json:"expires_in"`
	Scope           string `json:"scope,omitempty"`
}

// maxFormBytes bounds the body of a form posted to the issuer.
const maxFormBytes = 64 << 10

// serveToken implements the token endpoint. It parses the form and hands it
// to the grant named by grant_type: token exchange (serveTokenExchange)
// always, authorization_code and refresh_token under
// WithAuthorizationServer. Errors follow RFC 6749 §5.2.
func (i *Issuer) serveToken(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	down := i.tokenEndpointDown
	i.mu.Unlock()
	if down {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "token endpoint unavailable (SetTokenEndpointAvailable)")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	switch gt := r.PostForm.Get("grant_type"); {
	case gt == grantTypeTokenExchange:
		i.serveTokenExchange(w, r)
	case i.as != nil && gt == grantTypeAuthorizationCode:
		i.as.serveAuthorizationCodeGrant(w, r)
	case i.as != nil && gt == grantTypeRefreshToken:
		i.as.serveRefreshTokenGrant(w, r)
	case i.as != nil:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "supported grants: authorization_code, refresh_token, token exchange")
	default:
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "only token exchange is supported")
	}
}

// serveTokenExchange implements RFC 8693 token exchange: the client (HTTP
// Basic) posts a subject_token this issuer minted and that is still valid,
// an "audience" and/or "resource", and optionally a "scope"; it gets a JWT
// for the same subject whose "aud" is the requested audiences and resources
// and whose scopes are the requested ones that the subject token holds (all
// of them when none is requested). Errors follow RFC 8693 §2.2.2. The form
// is parsed.
func (i *Issuer) serveTokenExchange(w http.ResponseWriter, r *http.Request) {
	if !i.authenticated(r) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	form := r.PostForm
	subjectToken := form.Get("subject_token")
	switch {
	case subjectToken == "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "subject_token required")
		return
	case !isTokenType(form.Get("subject_token_type")):
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "subject_token_type must be an access token or JWT")
		return
	case form.Get("requested_token_type") != "" && !isTokenType(form.Get("requested_token_type")):
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "requested_token_type not supported")
		return
	case form.Get("actor_token") != "":
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "actor_token not supported")
		return
	}
	for _, res := range form["resource"] {
		u, err := url.Parse(res)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			writeOAuthError(w, http.StatusBadRequest, "invalid_target", "resource must be an absolute URI without fragment")
			return
		}
	}
	var audiences []string
	for _, a := range append(slices.Clone(form["audience"]), form["resource"]...) {
		if !slices.Contains(audiences, a) {
			audiences = append(audiences, a)
		}
	}
	if len(audiences) == 0 || slices.Contains(audiences, "") {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "audience or resource required")
		return
	}

	i.mu.Lock()
	_, revoked := i.revoked[subjectToken]
	i.mu.Unlock()
	subject, err := i.parseOwn(subjectToken)
	if err != nil || revoked {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "subject_token invalid")
		return
	}

	held := scopeTokens(stringClaim(subject["scope"]))
	granted := held
	if requested := scopeTokens(form.Get("scope")); len(requested) > 0 {
		granted = slices.DeleteFunc(requested, func(s string) bool { return !slices.Contains(held, s) })
		if len(granted) == 0 {
			writeOAuthError(w, http.StatusBadRequest, "invalid_scope", "the subject token holds none of the requested scopes")
			return
		}
	}

	now := time.Now()
	exp := now.Add(i.exchangeTTL)
	if orig, ok := numericClaim(subject["exp"]); ok && time.Unix(orig, 0).Before(exp) {
		exp = time.Unix(orig, 0)
	}
	opts := []TokenOption{
		Subject(stringClaim(subject["sub"])),
		Audience(audiences...),
		ExpiresAt(exp),
		ClientID(i.clientID),
		Without("scope"),
	}
	if len(granted) > 0 {
		opts = append(opts, Scopes(granted...))
	}
	for _, c := range []string{"email", "name"} {
		if v, ok := subject[c]; ok {
			opts = append(opts, Claim(c, v))
		}
	}
	tok, err := i.MintToken(opts...)
	if err != nil {
		writeOAuthError(w, http.StatusInternalServerError, "server_error", "cannot sign token")
		return
	}
	i.mu.Lock()
	i.exchanges++
	i.mu.Unlock()
	writeJSON(w, http.StatusOK, exchangeResponse{
		AccessToken:     tok,
		IssuedTokenType: tokenTypeAccessToken,
		TokenType:       "Bearer",
		ExpiresIn:       int64(time.Until(exp).Round(time.Second) / time.Second),
		Scope:           strings.Join(granted, " "),
	})
}

func isTokenType(t string) bool { return t == tokenTypeAccessToken || t == tokenTypeJWT }

func stringClaim(v any) string {
	s, _ := v.(string)
	return s
}

// scopeTokens returns the scopes of s, a scope string, in order: split on
// spaces only (RFC 6749 §3.3), as the identity verifiers and scopes.Parse
// split it. A tab or a Unicode space is part of the scope it is in, so
// that "notes:x\u00a0admin" never stands for "admin".
func scopeTokens(s string) []string {
	var out []string
	for s != "" {
		var f string
		f, s, _ = strings.Cut(s, " ")
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}
