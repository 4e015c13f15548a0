package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSigningKeyFile checks the key formats GATEWAY_SIGNING_KEY_FILE
// accepts, and that the gateway then signs with that key: its JWKS
// publishes it, and tool calls verify at the backend.
func TestSigningKeyFile(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	pkcs8 := func(k crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	sec1, err := x509.MarshalECPrivateKey(ec)
	require.NoError(t, err)
	params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}})

	tests := []struct {
		name    string
		pem     []byte
		wantKty string
	}{
		{"PKCS #8 P-256", pkcs8(ec), "EC"},
		{"SEC 1 P-256 after EC PARAMETERS, as openssl ecparam writes it", append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...), "EC"},
		{"PKCS #1 RSA", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), "RSA"},
		{"PKCS #8 Ed25519", pkcs8(ed), "OKP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gateway-key.pem")
			require.NoError(t, os.WriteFile(path, tt.pem, 0o600))
			e := newTestEnv(t, map[string]string{"GATEWAY_SIGNING_KEY_FILE": path})
			r := e.do("GET", "/.well-known/gateway-jwks.json", "")
			require.Equal(t, 200, r.status)
			var jwks struct {
				Keys []map[string]any `json:"keys"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.raw), &jwks))
			require.Len(t, jwks.Keys, 1)
			require.Equal(t, tt.wantKty, jwks.Keys[0]["kty"])
			res := callTool(t, e.connect(e.mint("alice", allScopes...)), "whoami", map[string]any{})
			require.False(t, res.IsError, textOf(t, res))
		})
	}

	t.Run("refused", func(t *testing.T) {
		for name, body := range map[string][]byte{
			"no key":         []byte("hello"),
			"public key":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}),
			"corrupt PKCS 8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		} {
			_, err := parsePrivateKey(body)
			require.Error(t, err, name)
		}
	})
}
