package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/MicahParks/jwkset"
)

// minRSABits is the smallest RSA modulus accepted (RFC 7518 §3.3).
const minRSABits = 2048

// publicKey is one usable signature key of the JWKS.
type publicKey struct {
	kid string
	alg string // the JWK's "alg"; empty when it names none
	key crypto.PublicKey
}

// keyIndex is a parsed JWKS, immutable once published.
type keyIndex struct {
	byKID     map[string][]*publicKey
	all       []*publicKey
	fetchedAt time.Time
}

// parseJWKS parses a JWK Set, keeping the keys usable for signatures:
// RSA (at least 2048 bits), EC on P-256, P-384 or P-521, and Ed25519,
// whose "use" (if any) is "sig" and whose "key_ops" (if any) include
// "verify". Other keys (symmetric, encryption, unsupported, invalid) are
// skipped. A document that is not a JWK Set is an error, and so is a set
// without a single usable key: fetched, it is a failed fetch, and the keys
// held keep serving. An issuer withdraws a key by publishing its
// successor; a set with none is a broken deployment far more often, and
// taking it for the issuer's keys would sign every user out.
func parseJWKS(body []byte) (*keyIndex, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array`)
	}
	idx := &keyIndex{byKID: make(map[string][]*publicKey, len(set.Keys))}
	for _, raw := range set.Keys {
		k, ok := parseJWK(raw)
		if !ok {
			continue
		}
		idx.all = append(idx.all, k)
		idx.byKID[k.kid] = append(idx.byKID[k.kid], k)
	}
	if len(idx.all) == 0 {
		return nil, fmt.Errorf("no usable signature key among %d", len(set.Keys))
	}
	return idx, nil
}

// parseJWK returns the signature key raw describes, if usable.
func parseJWK(raw json.RawMessage) (*publicKey, bool) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, false
	}
	if (m.USE != "" && m.USE != jwkset.UseSig) ||
		(len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify)) ||
		m.KTY == jwkset.KtyOct {
		return nil, false
	}
	// Never fetch an "x5u" (validation only reads it when GetX5U is set)
	// and do not refuse a key merely for naming an http one.
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{SkipX5UScheme: true})
	if err != nil {
		return nil, false
	}
	switch pk := j.Key().(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() < minRSABits {
			return nil, false
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return nil, false
	}
	return &publicKey{kid: m.KID, alg: string(m.ALG), key: j.Key()}, true
}

// find returns the key for a token's kid and alg. It returns nil, nil when
// no key has that kid (or, for a token without kid, when not exactly one
// key fits alg), and an error wrapping ErrBadAlgorithm when the kid's keys
// do not fit alg.
func (idx *keyIndex) find(kid, alg string) (any, error) {
	if kid == "" {
		var found *publicKey
		for _, k := range idx.all {
			if k.fits(alg) == nil {
				if found != nil {
					return nil, nil
				}
				found = k
			}
		}
		if found == nil {
			return nil, nil
		}
		return found.key, nil
	}
	cands := idx.byKID[kid]
	if len(cands) == 0 {
		return nil, nil
	}
	var err error
	for _, k := range cands {
		if err = k.fits(alg); err == nil {
			return k.key, nil
		}
	}
	return nil, err
}

// fits reports whether k may verify a signature made with alg: the JWK's
// "alg", when present, must be alg, and the key type must be alg's.
func (k *publicKey) fits(alg string) error {
	if k.alg != "" && k.alg != alg {
		return jwtErrorf(ErrBadAlgorithm, "key %s is for %s, token says %s", quoteValue(k.kid), k.alg, alg)
	}
	ok := false
	switch pk := k.key.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			ok = true
		}
	case *ecdsa.PublicKey:
		ok = (alg == "ES256" && pk.Curve == elliptic.P256()) ||
			(alg == "ES384" && pk.Curve == elliptic.P384()) ||
			(alg == "ES512" && pk.Curve == elliptic.P521())
	case ed25519.PublicKey:
		ok = alg == "EdDSA"
	}
	if !ok {
		return jwtErrorf(ErrBadAlgorithm, "key %s (%T) cannot verify %s", quoteValue(k.kid), k.key, alg)
	}
	return nil
}
