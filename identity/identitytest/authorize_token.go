package identitytest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// refreshGrant is what a refresh token stands for. Tokens rotate: each use
// marks the token used and issues the next of its family; a used token
// presented again revokes the whole family (OAuth 2.1 §4.3.1).
type refreshGrant struct {
	family   string
	clientID string
	user     User
	scopes   []string // as first granted; a refresh may narrow its access token, never this
	resource string
	used     bool
}

// tokenResponse is the RFC 6749 §5.1 success response.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// oauthError is an RFC 6749 §5.2 error for the token endpoint.
type oauthError struct {
	status            int
	code, description string
}

func (e *oauthError) write(w http.ResponseWriter) {
	writeOAuthError(w, e.status, e.code, e.description)
}

func badRequest(code, description string) *oauthError {
	return &oauthError{http.StatusBadRequest, code, description}
}

// serveAuthorizationCodeGrant redeems an authorization code (RFC 6749
// §4.1.3, RFC 7636 §4.5, RFC 8707). The code is used up by the first
// request that presents it, successful or not; presenting it again fails
// with invalid_grant and revokes what it gave.
func (a *authServer) serveAuthorizationCodeGrant(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	if e := repeated(form, "code", "code_verifier", "redirect_uri", "resource"); e != nil {
		e.write(w)
		return
	}
	c, e := a.authenticateClient(r)
	if e != nil {
		e.write(w)
		return
	}
	code, verifier := form.Get("code"), form.Get("code_verifier")
	if code == "" {
		badRequest("invalid_request", "code is required").write(w)
		return
	}
	if verifier == "" {
		badRequest("invalid_request", "code_verifier is required (PKCE)").write(w)
		return
	}

	a.mu.Lock()
	rec, ok := a.codes.get(code)
	replay := ok && rec.redeemed
	if ok {
		rec.redeemed = true
		rec.replayed = replay
	}
	a.mu.Unlock()
	switch {
	case !ok:
		badRequest("invalid_grant", "the code is invalid or expired").write(w)
		return
	case replay:
		a.revokeIssued(rec)
		badRequest("invalid_grant", "the code was already used; the tokens it gave are revoked").write(w)
		return
	case rec.clientID != c.id:
		badRequest("invalid_grant", "the code was issued to another client").write(w)
		return
	case form.Get("redirect_uri") != rec.redirectURI:
		badRequest("invalid_grant", "redirect_uri does not match the authorization request").write(w)
		return
	case !verifierMatches(verifier, rec.challenge):
		badRequest("invalid_grant", "code_verifier does not match the code_challenge").write(w)
		return
	case form.Has("resource") && form.Get("resource") != rec.resource:
		badRequest("invalid_target", "resource differs from the authorization request").write(w)
		return
	}

	access, err := a.mintAccessToken(c.id, rec.user, rec.scopes, rec.resource)
	if err != nil {
		(&oauthError{http.StatusInternalServerError, "server_error", "cannot sign the token"}).write(w)
		return
	}
	var refresh string
	a.mu.Lock()
	replayed := rec.replayed
	if !replayed {
		rec.accessToken = access
		if c.mayRefresh() {
			rec.family = rand.Text()
			refresh = a.putRefreshLocked(&refreshGrant{family: rec.family, clientID: c.id, user: rec.user, scopes: rec.scopes, resource: rec.resource})
		}
	}
	a.mu.Unlock()
	if replayed { // presented twice at once: neither request gets tokens
		a.iss.Revoke(access)
		badRequest("invalid_grant", "the code was already used").write(w)
		return
	}
	a.writeTokens(w, access, refresh, rec.scopes)
}

// serveRefreshTokenGrant exchanges a refresh token (RFC 6749 §6) for a new
// access token and a new refresh token, for the same user and resource,
// with the requested scopes (a subset of those first granted) or all of
// them.
func (a *authServer) serveRefreshTokenGrant(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	if e := repeated(form, "refresh_token", "scope", "resource"); e != nil {
		e.write(w)
		return
	}
	c, e := a.authenticateClient(r)
	if e != nil {
		e.write(w)
		return
	}
	token := form.Get("refresh_token")
	if token == "" {
		badRequest("invalid_request", "refresh_token is required").write(w)
		return
	}

	a.mu.Lock()
	g, refresh, e := a.rotateLocked(token, c, form)
	a.mu.Unlock()
	if e != nil {
		e.write(w)
		return
	}
	scopes := g.scopes
	if form.Has("scope") {
		scopes = scopeTokens(form.Get("scope"))
	}
	access, err := a.mintAccessToken(c.id, g.user, scopes, g.resource)
	if err != nil {
		(&oauthError{http.StatusInternalServerError, "server_error", "cannot sign the token"}).write(w)
		return
	}
	a.writeTokens(w, access, refresh, scopes)
}

// rotateLocked checks the refresh token and the request, marks the token
// used and stores the next of its family, returning its grant and the new
// token. a.mu is held.
func (a *authServer) rotateLocked(token string, c *client, form url.Values) (*refreshGrant, string, *oauthError) {
	g, ok := a.refresh.get(token)
	switch {
	case !ok:
		return nil, "", badRequest("invalid_grant", "the refresh token is invalid or expired")
	case g.used:
		a.refresh.removeIf(func(o *refreshGrant) bool { return o.family == g.family })
		return nil, "", badRequest("invalid_grant", "the refresh token was already used; its successors are revoked")
	case g.clientID != c.id:
		return nil, "", badRequest("invalid_grant", "the refresh token was issued to another client")
	case form.Has("resource") && form.Get("resource") != g.resource:
		return nil, "", badRequest("invalid_target", "resource differs from the original grant")
	}
	if form.Has("scope") {
		for _, s := range scopeTokens(form.Get("scope")) {
			if !slices.Contains(g.scopes, s) {
				return nil, "", badRequest("invalid_scope", "a requested scope was not granted originally")
			}
		}
	}
	g.used = true
	next := *g
	next.used = false
	return g, a.putRefreshLocked(&next), nil
}

// putRefreshLocked stores a new refresh token for g and returns it. a.mu is
// held.
func (a *authServer) putRefreshLocked(g *refreshGrant) string {
	token := "rt_" + rand.Text() + rand.Text()
	a.refresh.put(token, g, time.Now().Add(a.refreshTTL))
	return token
}

// revokeIssued revokes what a replayed code gave: its refresh token family,
// and its access token as far as this issuer answers for it
// (introspection, token exchange; a verifier that checks JWTs locally
// still accepts it until it expires).
func (a *authServer) revokeIssued(rec *authorizationCode) {
	a.mu.Lock()
	access, family := rec.accessToken, rec.family
	if family != "" {
		a.refresh.removeIf(func(g *refreshGrant) bool { return g.family == family })
	}
	a.mu.Unlock()
	if access != "" {
		a.iss.Revoke(access)
	}
}

// mintAccessToken signs an RFC 9068 access token.
func (a *authServer) mintAccessToken(clientID string, u User, scopes []string, resource string) (string, error) {
	opts := []TokenOption{
		Subject(u.Subject),
		Audience(resource),
		ExpiresIn(a.accessTTL),
		ClientID(clientID),
		Type("at+jwt"),
	}
	if len(scopes) > 0 {
		opts = append(opts, Scopes(scopes...))
	}
	if u.Email != "" {
		opts = append(opts, Email(u.Email))
	}
	if u.Name != "" {
		opts = append(opts, Name(u.Name))
	}
	return a.iss.MintToken(opts...)
}

func (a *authServer) writeTokens(w http.ResponseWriter, access, refresh string, scopes []string) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:  access,
		TokenType:    "Bearer",
		ExpiresIn:    int64(a.accessTTL / time.Second),
		Scope:        strings.Join(scopes, " "),
		RefreshToken: refresh,
	})
}

// authenticateClient identifies the client of a token request by the one
// method it used, which must be the method it registered: HTTP Basic
// (client_secret_basic), client_id and client_secret in the form
// (client_secret_post), or client_id alone (none). The form is parsed.
func (a *authServer) authenticateClient(r *http.Request) (*client, *oauthError) {
	form := r.PostForm
	if e := repeated(form, "client_id", "client_secret"); e != nil {
		return nil, e
	}
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	basicID, basicSecret, hasBasic := r.BasicAuth()
	if hasBasic {
		// RFC 6749 §2.3.1: both are form-urlencoded before Basic encoding.
		if id, err := url.QueryUnescape(basicID); err == nil {
			basicID = id
		}
		if s, err := url.QueryUnescape(basicSecret); err == nil {
			basicSecret = s
		}
	}
	var id, secret, method string
	switch {
	case hasBasic && (formSecret != "" || (formID != "" && formID != basicID)):
		return nil, badRequest("invalid_request", "use one client authentication method")
	case hasBasic:
		id, secret, method = basicID, basicSecret, authMethodBasic
	case formSecret != "":
		id, secret, method = formID, formSecret, authMethodPost
	default:
		id, method = formID, authMethodNone
	}
	unauthorized := &oauthError{http.StatusUnauthorized, "invalid_client", "client authentication failed"}
	if id == "" {
		return nil, unauthorized
	}
	c := a.client(id)
	if c == nil || c.authMethod != method {
		return nil, unauthorized
	}
	if method != authMethodNone && subtle.ConstantTimeCompare([]byte(secret), []byte(c.secret)) != 1 {
		return nil, unauthorized
	}
	return c, nil
}

// repeated returns an invalid_request error when one of params is sent more
// than once (RFC 6749 §3.2).
func repeated(form url.Values, params ...string) *oauthError {
	for _, p := range params {
		if len(form[p]) > 1 {
			return badRequest("invalid_request", p+" is repeated")
		}
	}
	return nil
}

// verifierMatches reports whether the PKCE code_verifier hashes to the S256
// challenge (RFC 7636 §4.6). A verifier of the wrong shape never matches.
func verifierMatches(verifier, challenge string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		c := verifier[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}
