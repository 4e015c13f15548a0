package identitytest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"slices"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// signingKey is one key pair of the issuer and its published JWK.
type signingKey struct {
	kid  string
	alg  string
	priv crypto.Signer
	jwk  jwkset.JWKMarshal
}

// newSigningKey generates a key pair for alg with a random kid. The JWK names
// alg unless publishAlg is false.
func newSigningKey(alg string, publishAlg bool) (*signingKey, error) {
	priv, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	kid := rand.Text()
	j, err := jwkset.NewJWKFromKey(priv.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.ALG(alg), KID: kid, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, fmt.Errorf("marshal %s key as JWK: %w", alg, err)
	}
	m := j.Marshal()
	if !publishAlg {
		m.ALG = ""
	}
	return &signingKey{kid: kid, alg: alg, priv: priv, jwk: m}, nil
}

// generateKey returns a fresh private key of the type alg needs.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		return ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, fmt.Errorf("unsupported signing algorithm %q (want RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA)", alg)
}

// asymmetricAlgorithms are the algorithms the issuer signs with and accepts
// back (introspection, token exchange).
var asymmetricAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// Rotate adds a new signing key for alg (see WithAlgorithm) and makes it the
// current one: tokens minted from now on carry its kid. Older keys stay
// published until RemoveKey. It returns the new kid and fails the test on an
// unsupported alg.
func (i *Issuer) Rotate(t testing.TB, alg string) (kid string) {
	t.Helper()
	kid, err := i.RotateKey(alg)
	if err != nil {
		t.Fatalf("identitytest: rotate: %v", err)
	}
	return kid
}

// RotateKey is Rotate for use outside a test.
func (i *Issuer) RotateKey(alg string) (kid string, err error) {
	k, err := newSigningKey(alg, i.publishAlg)
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, k)
	i.current = k
	return k.kid, nil
}

// RemoveKey withdraws the key kid from the JWKS. Tokens it signed no longer
// verify once a verifier refetches the set. Removing the current key does not
// stop the issuer signing with it: its tokens then name a kid the JWKS lacks.
func (i *Issuer) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = slices.DeleteFunc(i.keys, func(k *signingKey) bool { return k.kid == kid })
}

// KeyID returns the kid of the current signing key.
func (i *Issuer) KeyID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.current.kid
}

// PublicKey returns the public key of the signing key kid (published or
// not), or nil when the issuer never had it.
func (i *Issuer) PublicKey(kid string) crypto.PublicKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	if k := i.keyLocked(kid); k != nil {
		return k.priv.Public()
	}
	return nil
}

// keyLocked returns the key kid, current or published, or nil. i.mu is held.
func (i *Issuer) keyLocked(kid string) *signingKey {
	if i.current.kid == kid {
		return i.current
	}
	for _, k := range i.keys {
		if k.kid == kid {
			return k
		}
	}
	return nil
}

// parseOwn verifies that token is a JWT this issuer signed with a key it
// still publishes, issued by it, and currently valid, and returns its claims.
func (i *Issuer) parseOwn(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		i.mu.Lock()
		defer i.mu.Unlock()
		for _, k := range i.keys {
			if k.kid == kid && k.alg == t.Method.Alg() {
				return k.priv.Public(), nil
			}
		}
		return nil, fmt.Errorf("unknown key %q", kid)
	}, jwt.WithValidMethods(asymmetricAlgorithms), jwt.WithIssuer(i.issuer), jwt.WithExpirationRequired())
	if err != nil {
		return nil, err
	}
	return claims, nil
}
