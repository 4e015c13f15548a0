package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// maxKeyFileBytes bounds the signing key file read.
const maxKeyFileBytes = 64 << 10

// signingKey returns the key the gateway signs backend tokens with: the PEM
// private key in GATEWAY_SIGNING_KEY_FILE (PKCS #8 "PRIVATE KEY", or SEC 1
// "EC PRIVATE KEY", or PKCS #1 "RSA PRIVATE KEY"), else a P-256 key made now.
// A made key lives as long as the process: every replica then has its own,
// which works when each replica's backend reads that replica's JWKS (the
// in-process backend does), but a backend shared by several replicas needs
// them to share one key file.
func signingKey(path string) (crypto.Signer, error) {
	if path == "" {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("generate the gateway signing key: %w", err)
		}
		return k, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_SIGNING_KEY_FILE: %w", err)
	}
	if len(b) > maxKeyFileBytes {
		return nil, fmt.Errorf("GATEWAY_SIGNING_KEY_FILE %s: larger than %d bytes, not a private key", path, maxKeyFileBytes)
	}
	k, err := parsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_SIGNING_KEY_FILE %s: %w (make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out gateway-key.pem`)", path, err)
	}
	return k, nil
}

// parsePrivateKey reads the first private key block of a PEM file.
func parsePrivateKey(b []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue // parameters, certificates: skip
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		s, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%T cannot sign", key)
		}
		return s, nil
	}
}
