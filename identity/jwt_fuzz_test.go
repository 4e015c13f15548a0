package identity_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// FuzzJWTVerify feeds arbitrary strings to a JWTVerifier: it must never
// panic, and every refusal must wrap exactly one sentinel error and not
// contain the token.
func FuzzJWTVerify(f *testing.F) {
	iss := identitytest.NewIssuer(f)
	v := newVerifier(f, iss, func(c *identity.JWTConfig) { c.CacheSize = -1 })
	valid := iss.Mint(f, identitytest.Scopes("a b"))
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		iss.Mint(f, identitytest.AlgNone()),
		iss.Mint(f, identitytest.HS256WithPublicKey()),
		iss.Mint(f, identitytest.Header("crit", []string{"x"})),
		iss.Mint(f, identitytest.KeyID("unknown")),
		iss.Mint(f, identitytest.ScopeClaim("scp", []any{"a", 1.5, nil})),
		iss.Mint(f, identitytest.Claim("aud", map[string]any{"x": 1})),
		iss.Mint(f, identitytest.Claim("exp", "soon")),
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		"." + parts[1] + "." + parts[2],
		"a.b.c.d.e",
		"....",
		"",
		"opaque",
		"eyJhbGciOiJSUzI1NiJ9.bnVsbA.c2ln",
		"eyJhbGciOiJSUzI1NiIsImNyaXQiOm51bGx9.e30.",
		"bnVsbA.e30.c2ln",
		"eyJhbGciOiJSUzI1NiIsImFsZyI6IlBTMjU2In0.e30.c2ln", // {"alg":"RS256","alg":"PS256"}
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		if err == nil {
			if id == nil || id.Subject == "" {
				t.Fatalf("nil error with identity %v", id)
			}
			return
		}
		if id != nil {
			t.Fatalf("identity %v returned with error %v", id, err)
		}
		requireVerifyError(t, err, sentinelOf(err), token)
	})
}

// sentinelOf returns the first sentinel err wraps, or nil.
func sentinelOf(err error) error {
	for _, s := range allSentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}
