package identity

import (
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/idgate/idgate/scopes"
)

// checkIssuer checks "iss" against the configured issuer, after removing
// one trailing "/" from both.
func (v *JWTVerifier) checkIssuer(claims jwt.MapClaims) error {
	iss, err := claims.GetIssuer()
	switch {
	case err != nil:
		return jwtErrorf(ErrMalformedToken, "iss is not a string")
	case iss == "":
		return jwtErrorf(ErrMissingClaim, "no iss")
	case normaliseIssuer(iss) != normaliseIssuer(v.cfg.Issuer):
		return jwtErrorf(ErrBadIssuer, "iss %s, want %q", quoteValue(iss), v.cfg.Issuer)
	}
	return nil
}

// maxNumericDate bounds the magnitude of a NumericDate ("exp", "nbf",
// "iat"), in seconds: 2^53, the largest integer a float64 holds exactly,
// some 285 million years. Beyond it, converting the value to a time
// overflows (golang-jwt converts a float64 to int64 unchecked, and
// time.Unix wraps), so that "nbf": 1e300 would read as a date long past
// and the token be accepted as valid already.
const maxNumericDate = 1 << 53

// checkTimeClaims refuses an "exp", "nbf" or "iat" that is a number too
// large (or too negative) to be a time: see maxNumericDate. Other types
// are left to the parser, which refuses them.
func checkTimeClaims(claims jwt.MapClaims) error {
	for _, name := range [...]string{"exp", "nbf", "iat"} {
		if f, ok := claims[name].(float64); ok && (f > maxNumericDate || f < -maxNumericDate) {
			return jwtErrorf(ErrMalformedToken, "%s is out of range", name)
		}
	}
	return nil
}

// identity checks the claims that remain once the signature and times
// hold ("sub", "aud", the scope claims) and builds the Identity.
func (v *JWTVerifier) identity(claims jwt.MapClaims, token string) (*Identity, error) {
	sub, err := claims.GetSubject()
	switch {
	case err != nil:
		return nil, jwtErrorf(ErrMalformedToken, "sub is not a string")
	case sub == "":
		return nil, jwtErrorf(ErrMissingClaim, "no sub")
	}
	aud, err := audienceOf(claims)
	switch {
	case err != nil:
		return nil, err
	case len(aud) == 0:
		return nil, jwtErrorf(ErrMissingClaim, "no aud")
	case !v.audienceAccepted(aud):
		return nil, jwtErrorf(ErrBadAudience, "aud names none of the accepted audiences")
	}
	if _, bound := claims["cnf"]; bound && !v.cfg.InsecureAcceptBoundTokens {
		return nil, jwtErrorf(ErrBoundToken, "cnf claim present")
	}
	granted, err := v.scopesOf(claims)
	if err != nil {
		return nil, err
	}
	iss, _ := claims.GetIssuer()
	id := &Identity{
		Subject:   sub,
		UserID:    sub,
		Issuer:    iss,
		Audience:  aud,
		Scopes:    granted,
		ClientID:  stringClaim(claims, "client_id"),
		Email:     stringClaim(claims, "email"),
		Name:      stringClaim(claims, "name"),
		IssuedAt:  timeClaim(claims.GetIssuedAt()),
		NotBefore: timeClaim(claims.GetNotBefore()),
		ExpiresAt: timeClaim(claims.GetExpirationTime()),
		TokenID:   stringClaim(claims, "jti"),
		Claims:    claims,
	}
	if id.ClientID == "" {
		id.ClientID = stringClaim(claims, "azp")
	}
	id = id.WithToken(token)
	if v.cfg.UserID != nil {
		uid, err := v.cfg.UserID(id)
		switch {
		case err != nil && wrapsSentinel(err):
			return nil, err
		case err != nil:
			return nil, &jwtError{sentinel: ErrInactive, detail: "UserID hook: " + err.Error(), cause: err}
		case uid == "":
			return nil, jwtErrorf(ErrInactive, "UserID hook returned an empty id")
		}
		id.UserID = uid
	}
	return id, nil
}

// audienceOf returns "aud" as a list: nil when absent (or empty), an error
// when it is neither a string nor an array of strings.
func audienceOf(claims jwt.MapClaims) ([]string, error) {
	switch v := claims["aud"].(type) {
	case nil:
		return nil, nil
	case string:
		if v == "" {
			return nil, nil
		}
		return []string{v}, nil
	case []any:
		aud := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, jwtErrorf(ErrMalformedToken, "aud holds a non-string")
			}
			aud = append(aud, s)
		}
		return aud, nil
	}
	return nil, jwtErrorf(ErrMalformedToken, "aud is neither a string nor an array of strings")
}

// audienceAccepted reports whether aud names an accepted audience.
func (v *JWTVerifier) audienceAccepted(aud []string) bool {
	for _, a := range aud {
		if v.cfg.audiences[a] {
			return true
		}
	}
	return false
}

// scopesOf returns the union of the configured scope claims. A claim may be
// a space-separated string or an array of strings.
func (v *JWTVerifier) scopesOf(claims jwt.MapClaims) (scopes.Set, error) {
	var all []string
	for _, name := range v.cfg.ScopeClaims {
		switch val := claims[name].(type) {
		case nil:
		case string:
			all = appendScopeTokens(all, val)
		case []any:
			for _, e := range val {
				s, ok := e.(string)
				if !ok {
					return scopes.Set{}, jwtErrorf(ErrMalformedToken, "scope claim %s holds a non-string", quoteValue(name))
				}
				all = append(all, s)
			}
		default:
			return scopes.Set{}, jwtErrorf(ErrMalformedToken, "scope claim %s is neither a string nor an array of strings", quoteValue(name))
		}
	}
	return scopes.Of(all...), nil
}

// appendScopeTokens appends to all the scopes of s, a scope claim's string
// form: scope tokens separated by spaces (RFC 6749 §3.3: scope-token *( SP
// scope-token )). Only SP separates: any other byte, tabs, line breaks and
// Unicode spaces included, belongs to the scope it is in, which is then no
// valid scope token and meets no requirement. Splitting there too (as
// strings.Fields does) would read "notes:x\u00a0admin", one scope an
// authorization server may issue verbatim for a free-form or dynamic scope
// request, as granting "admin".
func appendScopeTokens(all []string, s string) []string {
	for s != "" {
		var f string
		f, s, _ = strings.Cut(s, " ")
		if f != "" {
			all = append(all, f)
		}
	}
	return all
}

// stringClaim returns claims[name] if it is a string, else "".
func stringClaim(claims jwt.MapClaims, name string) string {
	s, _ := claims[name].(string)
	return s
}

// timeClaim turns a NumericDate getter's result into a time, zero when
// absent. The claims were validated, so err is nil.
func timeClaim(d *jwt.NumericDate, err error) time.Time {
	if d == nil || err != nil {
		return time.Time{}
	}
	return d.Time
}

// wrapsSentinel reports whether err wraps one of this package's sentinels
// (each has its row in failures).
func wrapsSentinel(err error) bool {
	return failureIndex(err) < len(failures)
}
