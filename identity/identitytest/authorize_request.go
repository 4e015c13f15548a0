package identitytest

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// maxRequestedScopes bounds the scopes of one authorization request.
const maxRequestedScopes = 64

// maxStateLength bounds the state of an authorization request, which a
// pending sign-in keeps for pendingLifetime (clients send a few dozen
// bytes).
const maxStateLength = 1 << 10

// pendingAuthorization is a validated authorization request waiting for
// the person at the sign-in page. Its key is the page's CSRF token.
type pendingAuthorization struct {
	client      *client
	redirectURI string
	state       string
	challenge   string   // PKCE S256 code_challenge
	resource    string   // the token's audience
	scopes      []string // requested and offered
}

// authorizationCode is an issued code: single use, bound to everything the
// token request must repeat or prove.
type authorizationCode struct {
	clientID    string
	redirectURI string
	challenge   string
	resource    string
	user        User
	scopes      []string

	redeemed    bool   // a token request presented it
	replayed    bool   // presented again after that
	accessToken string // what its redemption issued, revoked on replay
	family      string // the refresh token family it started, revoked on replay
}

// serveAuthorize implements the authorization endpoint's GET (RFC 6749
// §4.1.1 with PKCE, RFC 8707 and RFC 9207). An unknown client or an
// unregistered redirect_uri gets an error page, never a redirect; other
// errors redirect to the client with "error", "state" and "iss". A valid
// request gets the sign-in page.
func (a *authServer) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	clientID, ok := single(q, "client_id")
	if !ok || clientID == "" {
		a.renderError(w, http.StatusBadRequest, "The request names no client (one client_id parameter is required).")
		return
	}
	c := a.client(clientID)
	if c == nil {
		a.renderError(w, http.StatusBadRequest, "Unknown client. Register it at the registration endpoint, or configure it, first.")
		return
	}
	redirectURI, ok := single(q, "redirect_uri")
	if !ok || redirectURI == "" {
		a.renderError(w, http.StatusBadRequest, "The request has no redirect_uri (one is required).")
		return
	}
	if !c.allowsRedirect(redirectURI) {
		a.renderError(w, http.StatusBadRequest, "This redirect_uri is not registered for the client.")
		return
	}

	// From here on the client is known and errors go back to it, unless
	// anyone could have registered where they would go.
	state, ok := single(q, "state")
	fail := func(code, description string) {
		if !c.redirectsErrors(redirectURI) {
			a.renderError(w, http.StatusBadRequest, "The authorization request is invalid ("+code+"): "+description+".")
			return
		}
		a.redirect(w, r, redirectURI, state, url.Values{"error": {code}, "error_description": {description}})
	}
	if len(state) > maxStateLength {
		a.renderError(w, http.StatusBadRequest, "The request's state is longer than "+strconv.Itoa(maxStateLength)+" bytes.")
		return
	}
	if !ok {
		fail("invalid_request", "state is repeated")
		return
	}
	for _, p := range []string{"response_type", "code_challenge", "code_challenge_method", "scope"} {
		if _, ok := single(q, p); !ok {
			fail("invalid_request", p+" is repeated")
			return
		}
	}
	if rt := q.Get("response_type"); rt != "code" {
		fail("unsupported_response_type", "response_type must be code")
		return
	}
	challenge := q.Get("code_challenge")
	if challenge == "" {
		fail("invalid_request", "code_challenge is required (PKCE)")
		return
	}
	if q.Get("code_challenge_method") != "S256" {
		fail("invalid_request", "code_challenge_method must be S256 (plain is refused)")
		return
	}
	if !validChallenge(challenge) {
		fail("invalid_request", "code_challenge must be 43 base64url characters (S256)")
		return
	}

	resource := a.defaultAudience
	switch res := q["resource"]; {
	case len(res) > 1:
		fail("invalid_target", "one resource at most")
		return
	case len(res) == 1:
		if len(res[0]) > maxURILength || checkResource(res[0]) != nil {
			fail("invalid_target", "resource must be an absolute URI without fragment")
			return
		}
		if a.resources != nil && !slices.Contains(a.resources, res[0]) {
			fail("invalid_target", "this resource is not served by this authorization server")
			return
		}
		resource = res[0]
	}

	requested := scopeTokens(q.Get("scope"))
	if len(requested) > maxRequestedScopes {
		fail("invalid_scope", "too many scopes")
		return
	}
	var offered, dropped []string
	for _, s := range requested {
		switch {
		case !validScopeToken(s):
			fail("invalid_scope", "scope holds an invalid scope token")
			return
		case slices.Contains(offered, s) || slices.Contains(dropped, s):
		case a.scopes == nil || slices.Contains(a.scopes, s):
			offered = append(offered, s)
		default:
			dropped = append(dropped, s)
		}
	}

	csrf := rand.Text()
	p := &pendingAuthorization{client: c, redirectURI: redirectURI, state: state, challenge: challenge, resource: resource, scopes: offered}
	a.mu.Lock()
	a.pending.put(csrf, p, time.Now().Add(pendingLifetime))
	a.mu.Unlock()
	a.renderSignIn(w, signInView{
		Issuer:      a.iss.issuer,
		Action:      a.authorizePath,
		CSRF:        csrf,
		ClientName:  c.displayName(),
		RedirectURI: redirectURI,
		Resource:    resource,
		Users:       a.users,
		Scopes:      offered,
		Dropped:     dropped,
	})
}

// serveSignIn handles the sign-in form posted back to the authorization
// endpoint: "csrf" (the page's token, which names the pending request),
// "user" (a Username), "scope" (repeated: the scopes granted, each one
// requested) and "action" ("deny" refuses; anything else, or nothing,
// approves). It redirects to the client with a code, or with
// error=access_denied. Cross-origin browser posts are refused.
func (a *authServer) serveSignIn(w http.ResponseWriter, r *http.Request) {
	if err := a.crossOrigin.Check(r); err != nil {
		a.renderError(w, http.StatusForbidden, "Cross-origin sign-in refused.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		a.renderError(w, http.StatusBadRequest, "Malformed sign-in form.")
		return
	}
	form := r.PostForm
	csrf, _ := single(form, "csrf")
	a.mu.Lock()
	p, ok := a.pending.get(csrf)
	a.mu.Unlock()
	if csrf == "" || !ok {
		a.renderError(w, http.StatusBadRequest, "This sign-in request is unknown or has expired. Start again from the application.")
		return
	}
	deny := form.Get("action") == "deny"
	var user User
	var granted []string
	if !deny {
		username, _ := single(form, "user")
		if user, ok = a.usersByName[username]; !ok {
			a.renderError(w, http.StatusBadRequest, "Choose one of the demo users.")
			return
		}
		for _, v := range form["scope"] {
			for _, s := range scopeTokens(v) {
				if !slices.Contains(p.scopes, s) {
					a.renderError(w, http.StatusBadRequest, "A scope in the form was not requested by the application.")
					return
				}
				if !slices.Contains(granted, s) {
					granted = append(granted, s)
				}
			}
		}
	}

	// The pending request is used once, whatever the answer.
	a.mu.Lock()
	_, ok = a.pending.get(csrf)
	a.pending.remove(csrf)
	a.mu.Unlock()
	if !ok {
		a.renderError(w, http.StatusBadRequest, "This sign-in request was already answered. Start again from the application.")
		return
	}
	if deny {
		a.redirect(w, r, p.redirectURI, p.state, url.Values{"error": {"access_denied"}, "error_description": {"the user denied access"}})
		return
	}
	// Keep the requested order.
	granted = slices.DeleteFunc(slices.Clone(p.scopes), func(s string) bool { return !slices.Contains(granted, s) })

	code := rand.Text()
	a.mu.Lock()
	a.codes.put(code, &authorizationCode{
		clientID:    p.client.id,
		redirectURI: p.redirectURI,
		challenge:   p.challenge,
		resource:    p.resource,
		user:        user,
		scopes:      granted,
	}, time.Now().Add(codeLifetime))
	a.mu.Unlock()
	a.redirect(w, r, p.redirectURI, p.state, url.Values{"code": {code}})
}

// redirect answers 302 to redirectURI with params, state when not empty,
// and the issuer (RFC 9207), keeping redirectURI's own query.
func (a *authServer) redirect(w http.ResponseWriter, r *http.Request, redirectURI, state string, params url.Values) {
	u, err := url.Parse(redirectURI) // validated at registration
	if err != nil {
		a.renderError(w, http.StatusInternalServerError, "The redirect URI cannot be used.")
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if state != "" {
		q.Set("state", state)
	}
	q.Set("iss", a.iss.issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// single returns the value of parameter name, and false when it is
// repeated (RFC 6749 §3.1: parameters are sent at most once).
func single(v url.Values, name string) (string, bool) {
	vs := v[name]
	if len(vs) > 1 {
		return "", false
	}
	if len(vs) == 0 {
		return "", true
	}
	return vs[0], true
}

// validChallenge reports whether s has the shape of an S256 code challenge:
// 43 base64url characters without padding (RFC 7636 §4.2).
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
