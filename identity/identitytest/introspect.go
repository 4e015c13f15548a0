package identitytest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MintOpaque returns a random opaque token (no dots, not a JWT) that the
// introspection endpoint knows, with the claims opts shape (the same
// defaults as Mint), failing the test on error.
func (i *Issuer) MintOpaque(t testing.TB, opts ...TokenOption) string {
	t.Helper()
	return i.MintOpaqueToken(opts...)
}

// MintOpaqueToken is MintOpaque for use outside a test.
func (i *Issuer) MintOpaqueToken(opts ...TokenOption) string {
	tok := "op_" + rand.Text() + rand.Text()
	claims := i.claimsOf(opts)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.opaque[tok] = claims
	return tok
}

// Revoke deactivates token, opaque or JWT: introspection then answers
// {"active":false} and token exchange refuses it. A verifier that checks
// JWTs locally is not told.
func (i *Issuer) Revoke(token string) {
	exp := i.expiryOf(token)
	now := time.Now()
	i.mu.Lock()
	defer i.mu.Unlock()
	i.revoked[token] = exp
	if len(i.revoked) > revokedSweepLen {
		// An expired token is refused as such: its revocation need not be
		// remembered. The dev authorization server revokes on every
		// replayed code or refresh token, which anyone can cause.
		for t, e := range i.revoked {
			if !e.IsZero() && now.After(e) {
				delete(i.revoked, t)
			}
		}
	}
}

// revokedSweepLen is the number of revoked tokens past which Revoke forgets
// the expired ones.
const revokedSweepLen = 256

// expiryOf returns when token expires, by its own claims ("exp" of a JWT,
// read unverified, or of an opaque token this issuer minted): zero when it
// has none or is neither.
func (i *Issuer) expiryOf(token string) time.Time {
	i.mu.Lock()
	claims, opaque := i.opaque[token]
	i.mu.Unlock()
	if !opaque {
		c := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(token, c); err != nil {
			return time.Time{}
		}
		claims = c
	}
	if exp, ok := numericClaim(claims["exp"]); ok {
		return time.Unix(exp, 0)
	}
	return time.Time{}
}

// Introspections returns how many introspection requests were answered
// (active or not), not counting refused ones (bad client, outage).
func (i *Issuer) Introspections() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.introspections
}

// SetIntrospectionAvailable sets whether the introspection endpoint answers.
// When false it answers 503. Default true.
func (i *Issuer) SetIntrospectionAvailable(ok bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.introspectionDown = !ok
}

// serveIntrospection implements RFC 7662: the client authenticates with
// HTTP Basic and posts the form parameter "token".
func (i *Issuer) serveIntrospection(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	down := i.introspectionDown
	i.mu.Unlock()
	if down {
		writeOAuthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "introspection unavailable (SetIntrospectionAvailable)")
		return
	}
	if !i.authenticated(r) {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "token parameter required")
		return
	}
	claims := i.activeClaims(tok)
	i.mu.Lock()
	i.introspections++
	i.mu.Unlock()
	if claims == nil {
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	resp := maps.Clone(claims)
	resp["active"] = true
	resp["token_type"] = "Bearer"
	if _, ok := resp["username"]; !ok {
		resp["username"] = resp["sub"]
	}
	writeJSON(w, http.StatusOK, resp)
}

// activeClaims returns the claims of tok when it is an opaque token or a JWT
// of this issuer that is neither revoked, expired nor not yet valid; else
// nil.
func (i *Issuer) activeClaims(tok string) map[string]any {
	i.mu.Lock()
	claims, opaque := i.opaque[tok]
	_, revoked := i.revoked[tok]
	i.mu.Unlock()
	if revoked {
		return nil
	}
	if !opaque {
		c, err := i.parseOwn(tok)
		if err != nil {
			return nil
		}
		return c
	}
	now := time.Now().Unix()
	if exp, ok := numericClaim(claims["exp"]); ok && exp <= now {
		return nil
	}
	if nbf, ok := numericClaim(claims["nbf"]); ok && nbf > now {
		return nil
	}
	return claims
}

// authenticated reports whether r carries the issuer's client credentials
// with HTTP Basic authentication.
func (i *Issuer) authenticated(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	return ok &&
		subtle.ConstantTimeCompare([]byte(id), []byte(i.clientID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(secret), []byte(i.secret)) == 1
}

// numericClaim reads a NumericDate claim however it was set.
func numericClaim(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), true
	case json.Number:
		f, err := n.Float64()
		return int64(f), err == nil
	}
	return 0, false
}
