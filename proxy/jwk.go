package proxy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// jwk is the public half of a signing key as a JSON Web Key (RFC 7517,
// RFC 7518 §6, RFC 8037).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Crv string `json:"crv,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

var b64 = base64.RawURLEncoding

// publicJWK returns the JWK of pub without kid, use or alg.
func publicJWK(pub crypto.PublicKey) (jwk, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", N: b64.EncodeToString(k.N.Bytes()), E: b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())}, nil
	case *ecdsa.PublicKey:
		crv, size, err := curveOf(k.Curve)
		if err != nil {
			return jwk{}, err
		}
		ecdh, err := k.ECDH()
		if err != nil {
			return jwk{}, fmt.Errorf("ecdsa key: %w", err)
		}
		raw := ecdh.Bytes() // 0x04 || X || Y, each size bytes
		return jwk{Kty: "EC", Crv: crv, X: b64.EncodeToString(raw[1 : 1+size]), Y: b64.EncodeToString(raw[1+size:])}, nil
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Crv: "Ed25519", X: b64.EncodeToString(k)}, nil
	default:
		return jwk{}, fmt.Errorf("unsupported public key type %T (want RSA, ECDSA or Ed25519)", pub)
	}
}

// curveOf returns the JWK curve name and coordinate size of c.
func curveOf(c elliptic.Curve) (string, int, error) {
	switch c {
	case elliptic.P256():
		return "P-256", 32, nil
	case elliptic.P384():
		return "P-384", 48, nil
	case elliptic.P521():
		return "P-521", 66, nil
	}
	return "", 0, errors.New("unsupported ECDSA curve (want P-256, P-384 or P-521)")
}

// thumbprint returns the RFC 7638 SHA-256 thumbprint of k, base64url: the
// hash of the required members in lexicographic order.
func (k jwk) thumbprint() string {
	var members any
	switch k.Kty {
	case "RSA":
		members = struct {
			E   string `json:"e"`
			Kty string `json:"kty"`
			N   string `json:"n"`
		}{k.E, k.Kty, k.N}
	case "EC":
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
			Y   string `json:"y"`
		}{k.Crv, k.Kty, k.X, k.Y}
	default:
		members = struct {
			Crv string `json:"crv"`
			Kty string `json:"kty"`
			X   string `json:"x"`
		}{k.Crv, k.Kty, k.X}
	}
	b, _ := json.Marshal(members) // plain strings: cannot fail
	sum := sha256.Sum256(b)
	return b64.EncodeToString(sum[:])
}
