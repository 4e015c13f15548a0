package identitytest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultSubject is the "sub" of minted tokens unless Subject says otherwise.
const DefaultSubject = "user-1"

// A TokenOption shapes a token minted by Mint, MintToken or MintOpaque.
// Options apply in order, after the defaults: "iss" the issuer, "sub"
// DefaultSubject, "aud" the issuer's audience, "iat" now, "exp" in one hour,
// a random "jti"; header "typ" "JWT", "kid" the current key, "alg" that
// key's algorithm.
type TokenOption func(*tokenSpec)

type tokenSpec struct {
	claims  map[string]any
	header  map[string]any
	alg     string // signing algorithm override
	forgery forgery
}

type forgery int

const (
	signedNormally forgery = iota
	signedAlgNone
	signedHMACPublicKey
	signedForeignKey
)

// Subject sets "sub".
func Subject(sub string) TokenOption { return Claim("sub", sub) }

// Scopes sets the "scope" claim to the scopes joined by spaces (RFC 9068).
func Scopes(scope ...string) TokenOption { return Claim("scope", strings.Join(scope, " ")) }

// ScopeClaim sets a claim that carries scopes in another shape, such as
// ScopeClaim("scp", []string{"a", "b"}) (Entra ID, Okta) or
// ScopeClaim("permissions", []string{"read:x"}) (Auth0).
func ScopeClaim(name string, value any) TokenOption { return Claim(name, value) }

// Audience sets "aud": a string for one audience, an array for several.
func Audience(aud ...string) TokenOption {
	return func(s *tokenSpec) {
		if len(aud) == 1 {
			s.claims["aud"] = aud[0]
		} else {
			s.claims["aud"] = aud
		}
	}
}

// NoAudience removes "aud".
func NoAudience() TokenOption { return Without("aud") }

// ExpiresIn sets "exp" to now plus d (negative: already expired).
func ExpiresIn(d time.Duration) TokenOption { return ExpiresAt(time.Now().Add(d)) }

// ExpiresAt sets "exp".
func ExpiresAt(t time.Time) TokenOption { return Claim("exp", t.Unix()) }

// NoExpiry removes "exp".
func NoExpiry() TokenOption { return Without("exp") }

// NotBefore sets "nbf".
func NotBefore(t time.Time) TokenOption { return Claim("nbf", t.Unix()) }

// IssuedAt sets "iat".
func IssuedAt(t time.Time) TokenOption { return Claim("iat", t.Unix()) }

// IssuerClaim overrides "iss", to mint a token that names another issuer
// while signed by this one.
func IssuerClaim(iss string) TokenOption { return Claim("iss", iss) }

// ClientID sets "client_id".
func ClientID(id string) TokenOption { return Claim("client_id", id) }

// Email sets "email".
func Email(email string) TokenOption { return Claim("email", email) }

// Name sets "name".
func Name(name string) TokenOption { return Claim("name", name) }

// Claim sets any claim to any JSON-encodable value.
func Claim(name string, value any) TokenOption {
	return func(s *tokenSpec) { s.claims[name] = value }
}

// Without removes a claim, default or not.
func Without(claim string) TokenOption {
	return func(s *tokenSpec) { delete(s.claims, claim) }
}

// Type sets the "typ" header, such as "at+jwt" (RFC 9068).
func Type(typ string) TokenOption { return Header("typ", typ) }

// KeyID sets the "kid" header. When the issuer holds a key with that kid the
// token is signed with it (to mint with an older key after Rotate);
// otherwise the current key signs a token that names an unknown kid.
func KeyID(kid string) TokenOption { return Header("kid", kid) }

// Header sets any header parameter, such as "jku", "x5u", "jwk" or "crit",
// to forge the tokens a verifier must refuse. A nil value removes the
// parameter: Header("kid", nil) mints a token without a kid. Setting "alg"
// changes what the header claims, not how the token is signed (see
// SigningAlgorithm).
func Header(name string, value any) TokenOption {
	return func(s *tokenSpec) {
		if value == nil {
			delete(s.header, name)
			return
		}
		s.header[name] = value
	}
}

// SigningAlgorithm signs with the selected key but under alg, and says so
// in the header: with an RSA key published for RS256, SigningAlgorithm("PS256")
// mints a token whose algorithm the key's JWK does not allow. The algorithm
// must suit the key's type.
func SigningAlgorithm(alg string) TokenOption { return func(s *tokenSpec) { s.alg = alg } }

// AlgNone mints an unsigned token: header "alg":"none" and an empty
// signature.
func AlgNone() TokenOption { return func(s *tokenSpec) { s.forgery = signedAlgNone } }

// HS256WithPublicKey mints the classic algorithm-confusion forgery: an HS256
// token whose HMAC secret is the selected key's public key in PEM, as a
// verifier that hands the public key to HMAC would accept.
func HS256WithPublicKey() TokenOption {
	return func(s *tokenSpec) { s.forgery = signedHMACPublicKey }
}

// ForeignKey signs with a freshly generated key of the selected key's type
// while keeping its kid, so that the signature does not verify.
func ForeignKey() TokenOption { return func(s *tokenSpec) { s.forgery = signedForeignKey } }

// Mint returns a signed JWT access token shaped by opts, failing the test on
// error.
func (i *Issuer) Mint(t testing.TB, opts ...TokenOption) string {
	t.Helper()
	tok, err := i.MintToken(opts...)
	if err != nil {
		t.Fatalf("identitytest: mint: %v", err)
	}
	return tok
}

// MintToken is Mint for use outside a test.
func (i *Issuer) MintToken(opts ...TokenOption) (string, error) {
	spec := i.newSpec(opts)
	i.mu.Lock()
	key := i.current
	if kid, ok := spec.header["kid"].(string); ok {
		if k := i.keyLocked(kid); k != nil {
			key = k
		}
	}
	i.mu.Unlock()

	alg := key.alg
	if spec.alg != "" {
		alg = spec.alg
	}
	method := jwt.GetSigningMethod(alg)
	var signWith any = key.priv
	switch spec.forgery {
	case signedAlgNone:
		method, signWith = jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType
	case signedHMACPublicKey:
		der, err := x509.MarshalPKIXPublicKey(key.priv.Public())
		if err != nil {
			return "", fmt.Errorf("encode public key: %w", err)
		}
		method = jwt.SigningMethodHS256
		signWith = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	case signedForeignKey:
		other, err := generateKey(key.alg)
		if err != nil {
			return "", err
		}
		signWith = other
	}
	if method == nil {
		return "", fmt.Errorf("unknown signing algorithm %q", alg)
	}
	if _, ok := spec.header["alg"]; !ok {
		spec.header["alg"] = method.Alg()
	}
	tok := &jwt.Token{Header: spec.header, Claims: jwt.MapClaims(spec.claims), Method: method}
	s, err := tok.SignedString(signWith)
	if err != nil {
		return "", fmt.Errorf("sign %s token with %s key: %w", method.Alg(), key.alg, err)
	}
	return s, nil
}

// newSpec applies opts to the default claims and header.
func (i *Issuer) newSpec(opts []TokenOption) *tokenSpec {
	now := time.Now()
	spec := &tokenSpec{
		claims: map[string]any{
			"iss": i.issuer,
			"sub": DefaultSubject,
			"aud": i.audience,
			"iat": now.Unix(),
			"exp": now.Add(time.Hour).Unix(),
			"jti": rand.Text(),
		},
		header: map[string]any{"typ": "JWT", "kid": i.KeyID()},
	}
	for _, o := range opts {
		o(spec)
	}
	return spec
}

// claimsOf returns the claims opts would mint, for opaque tokens.
func (i *Issuer) claimsOf(opts []TokenOption) map[string]any {
	return i.newSpec(opts).claims
}
