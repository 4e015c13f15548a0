package identity_test

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// benchToken returns an issuer, and a typical RS256 access token of it.
func benchToken(b *testing.B) (*identitytest.Issuer, string) {
	iss := identitytest.NewIssuer(b)
	return iss, iss.Mint(b, identitytest.Subject("alice"), identitytest.Scopes("crm:read", "notes"),
		identitytest.ClientID("app"), identitytest.Email("alice@example.com"))
}

// BenchmarkVerifyUncached is a full verification: header checks, JSON
// decoding, key lookup, RSA signature, claims and Identity.
func BenchmarkVerifyUncached(b *testing.B) {
	iss, tok := benchToken(b)
	v := newVerifier(b, iss, func(c *identity.JWTConfig) { c.CacheSize = -1 })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCached is a token presented again: a keyed hash, a map
// lookup and a constant-time comparison with the cached token.
func BenchmarkVerifyCached(b *testing.B) {
	iss, tok := benchToken(b)
	v := newVerifier(b, iss, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCachedParallel is BenchmarkVerifyCached from all
// GOMAXPROCS goroutines at once.
func BenchmarkVerifyCachedParallel(b *testing.B) {
	iss, tok := benchToken(b)
	v := newVerifier(b, iss, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkRS256Raw is the floor: jwt/v5 parsing the same token with the
// public key at hand, no JWKS, no claim checks beyond jwt's defaults.
func BenchmarkRS256Raw(b *testing.B) {
	iss, tok := benchToken(b)
	pub := iss.PublicKey(iss.KeyID())
	keyfunc := func(*jwt.Token) (any, error) { return pub, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := jwt.Parse(tok, keyfunc, jwt.WithValidMethods([]string{"RS256"})); err != nil {
			b.Fatal(err)
		}
	}
}
