package proxy_test

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"net/http"
	"testing"
	"time"

	"github.com/idgate/idgate/proxy"
)

// The benchmarks measure what a Credential adds to one backend call:
// Apply on a prepared request, no network (BenchmarkClientDo has the
// round trip over loopback for scale).

func BenchmarkForward(b *testing.B) {
	cred := proxy.Forward(mcpAud)
	id := withAud("https://other.example.com", mcpAud)
	req, _ := http.NewRequest(http.MethodGet, "http://backend.invalid/x", nil)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := cred.Apply(ctx, req, id); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSignerApply mints a token per call with each key type, and
// ("reuse") sends again a token minted for the same identity
// (SignerConfig.ReuseFor).
func BenchmarkSignerApply(b *testing.B) {
	for _, k := range []struct {
		name  string
		key   crypto.Signer
		reuse time.Duration
	}{
		{"EdDSA", edKey(b), 0},
		{"ES256", ecKey(b, elliptic.P256()), 0},
		{"RS256", testRSAKey(b), 0},
		{"ES256 reuse", ecKey(b, elliptic.P256()), 30 * time.Second},
	} {
		b.Run(k.name, func(b *testing.B) {
			s, err := proxy.NewSigner(proxy.SignerConfig{Issuer: gatewayIssuer, Audience: crmAudience, Key: k.key, CopyClaims: []string{"email"}, ReuseFor: k.reuse})
			if err != nil {
				b.Fatal(err)
			}
			id := alice()
			req, _ := http.NewRequest(http.MethodGet, "http://backend.invalid/x", nil)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Apply(ctx, req, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkExchangeCached(b *testing.B) {
	te := newFakeTokenEndpoint(b)
	te.expiresIn = 3600
	x, err := proxy.NewExchange(proxy.ExchangeConfig{TokenURL: te.URL(), ClientID: "gw", ClientSecret: "s", Audience: crmAudience})
	if err != nil {
		b.Fatal(err)
	}
	id := alice()
	req, _ := http.NewRequest(http.MethodGet, "http://backend.invalid/x", nil)
	ctx := context.Background()
	if err := x.Apply(ctx, req, id); err != nil { // fill the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, "http://backend.invalid/x", nil)
		for pb.Next() {
			if err := x.Apply(ctx, req, id); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if te.calls.Load() != 1 {
		b.Fatalf("%d exchanges, want 1", te.calls.Load())
	}
}

func BenchmarkClientDo(b *testing.B) {
	be := newBackend(b, nil)
	c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL + "/api/", Credential: proxy.Forward(mcpAud)})
	if err != nil {
		b.Fatal(err)
	}
	id := withAud(mcpAud)
	ctx := context.Background()
	var out struct {
		OK bool `json:"ok"`
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Do(ctx, id, http.MethodGet, "deals/42", nil, &out); err != nil {
			b.Fatal(err)
		}
	}
}
