package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTVerifier verifies JWT access tokens (RFC 9068) signed by one issuer
// with keys from its JWKS, following RFC 8725. It is a Verifier, safe for
// concurrent use. Create it with NewJWTVerifier and release it with Close.
//
// A token is accepted when, in this order:
//
//   - it is a three-part JWS of at most 32 KiB (a five-part JWE is refused
//     with ErrEncryptedToken, a token without dots with ErrOpaqueToken);
//   - its header names an allowed "alg", no "crit", and the required "typ"
//     (JWTConfig.RequireType); member names are matched exactly ("Alg" is
//     not "alg") and a header that repeats a member is malformed;
//   - its "iss" is the configured issuer (checked before any key lookup,
//     so foreign tokens cause no JWKS fetch);
//   - its "exp", "nbf" and "iat", when numbers, are at most 2^53 seconds
//     either way (a larger one would overflow the conversion to a time);
//   - the issuer's JWKS holds its "kid", for that algorithm and key type;
//   - the signature verifies;
//   - "exp", "nbf" and "iat" hold, within the leeway;
//   - "sub" is present and "aud" names a configured audience.
//
// Verified tokens are cached until they expire, or until the issuer's
// keys, once refreshed, no longer give the key a token was verified with
// (a withdrawn key ends its cached tokens within RefreshInterval); a
// cached token costs a hash of a few samples of it, a map lookup and a
// comparison.
type JWTVerifier struct {
	cfg    *jwtSettings
	parser *jwt.Parser
	keys   *keySet
	cache  *tokenCache
}

// NewJWTVerifier validates cfg and returns a verifier for its issuer. It
// also tries, within ctx, to discover the JWKS URL (unless configured) and
// fetch the keys, so that the first requests find them cached; if the
// issuer is unreachable it still returns the verifier, which retries on
// demand (and answers ErrKeysUnavailable until it succeeds). Only an
// invalid configuration is an error. ctx is not retained.
func NewJWTVerifier(ctx context.Context, cfg JWTConfig) (*JWTVerifier, error) {
	s, err := cfg.settings()
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(s.Algorithms),
		jwt.WithLeeway(s.Leeway),
		jwt.WithTimeFunc(s.Now),
		jwt.WithIssuedAt(),
		jwt.WithStrictDecoding(),
	}
	if !s.InsecureAllowMissingExpiry {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	v := &JWTVerifier{
		cfg:    s,
		parser: jwt.NewParser(opts...),
		keys:   newKeySet(s),
		cache:  newTokenCache(s.CacheSize),
	}
	v.keys.warm(ctx)
	return v, nil
}

// Audiences returns JWTConfig.Audiences: it implements AudienceReporter.
func (v *JWTVerifier) Audiences() []string { return slices.Clone(v.cfg.JWTConfig.Audiences) }

// Close stops any JWKS fetch in progress and waits for it to end. Verify
// keeps working with the keys already fetched but fetches no more.
func (v *JWTVerifier) Close() { v.keys.close() }

// Verify checks token and returns the identity it proves. The error wraps
// exactly one of this package's sentinel errors (ErrExpired,
// ErrBadAudience, ErrKeysUnavailable, ...) and never contains the token.
// The returned Identity may be shared with other callers that present the
// same token: do not modify it.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (*Identity, error) {
	if len(token) > maxTokenBytes {
		return nil, jwtErrorf(ErrMalformedToken, "token longer than %d bytes", maxTokenBytes)
	}
	now := v.cfg.Now()
	if id, ok := v.cached(token, now); ok {
		return id, nil
	}
	h, err := v.checkHeader(token)
	if err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	var bound *keyBinding
	_, err = v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// Called after the header and claims are decoded, before the
		// signature is checked. The key is chosen for h.Alg: the
		// signature must be checked under that same algorithm (both
		// parsers read the header with exact member names, so this only
		// guards against them drifting apart).
		if t.Method == nil || t.Method.Alg() != h.Alg {
			return nil, jwtErrorf(ErrMalformedToken, "header read two ways")
		}
		if err := v.checkIssuer(claims); err != nil {
			return nil, err
		}
		if err := checkTimeClaims(claims); err != nil {
			return nil, err
		}
		k, idx, err := v.keys.key(ctx, h.Kid, h.Alg)
		if err == nil {
			bound = &keyBinding{idx: idx, kid: h.Kid, alg: h.Alg, key: k}
		}
		return k, err
	})
	if err != nil {
		return nil, classifyJWTError(err)
	}
	// The Identity and the cache keep a copy: token may be a slice of a
	// much longer string, such as an Authorization header padded with
	// spaces after "Bearer", which keeping token would keep whole.
	token = strings.Clone(token)
	id, err := v.identity(claims, token)
	if err != nil {
		return nil, err
	}
	if id.ExpiresAt.After(now) && bound != nil { // not when accepted only thanks to the leeway
		v.cache.putBound(token, id, id.ExpiresAt, bound)
	}
	return id, nil
}

// classifyJWTError turns an error from jwt.Parser into a *jwtError: the
// keyfunc's own errors pass through, jwt's sentinels map to ours.
func classifyJWTError(err error) error {
	var je *jwtError
	if errors.As(err, &je) {
		return je
	}
	// jwt joins several claim errors; the order below picks the most
	// fundamental one.
	for _, m := range []struct {
		jwtErr, ours error
	}{
		{jwt.ErrTokenMalformed, ErrMalformedToken},
		{jwt.ErrTokenSignatureInvalid, ErrBadSignature},
		{jwt.ErrInvalidType, ErrMalformedToken},
		{jwt.ErrTokenRequiredClaimMissing, ErrMissingClaim},
		{jwt.ErrTokenExpired, ErrExpired},
		{jwt.ErrTokenNotValidYet, ErrNotYetValid},
		{jwt.ErrTokenUsedBeforeIssued, ErrNotYetValid},
	} {
		if errors.Is(err, m.jwtErr) {
			return &jwtError{sentinel: m.ours, detail: err.Error()}
		}
	}
	return &jwtError{sentinel: ErrMalformedToken, detail: err.Error()}
}

// remembered implements tokenMemory: Verify's cache hit, alone.
func (v *JWTVerifier) remembered(token string) (*Identity, bool) {
	if len(token) > maxTokenBytes {
		return nil, false
	}
	return v.cached(token, v.cfg.Now())
}

// cached returns the identity token was verified as while it is cached
// and the key it was verified with is still the one the issuer's current
// keys give for it: a token signed with a key the issuer has withdrawn
// since is verified again (and refused), however far off its expiry.
func (v *JWTVerifier) cached(token string, now time.Time) (*Identity, bool) {
	e, ok := v.cache.lookup(token, now)
	if !ok {
		return nil, false
	}
	b, ok := v.keys.holds(e.bound, now)
	if !ok {
		return nil, false
	}
	if b != e.bound {
		v.cache.putBound(e.token, e.id, e.until, b) // the entry's copy, not token (see Verify)
	}
	return e.id, true
}
