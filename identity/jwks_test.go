package identity_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// SPEC 19: 50 tokens with made-up kids cause at most a couple of fetches.
func TestJWKSUnknownKIDRefetchIsRateLimited(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clock := newFakeClock()
	v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.Now = clock.Now })
	require.Equal(t, 1, iss.JWKSFetches(), "the constructor warms the key cache")

	// The refetch interval (1 minute) has passed since the warm-up fetch:
	// the first unknown kid may refetch, the 49 others may not.
	clock.Advance(2 * time.Minute)
	for range 50 {
		tok := iss.Mint(t, identitytest.KeyID(rand.Text()))
		_, err := v.Verify(context.Background(), tok)
		requireVerifyError(t, err, identity.ErrUnknownKey, tok)
	}
	require.Equal(t, 2, iss.JWKSFetches())

	// Concurrent unknown kids, once the interval has passed again, share a
	// single fetch.
	clock.Advance(2 * time.Minute)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := iss.Mint(t, identitytest.KeyID(rand.Text()))
			_, err := v.Verify(context.Background(), tok)
			requireVerifyError(t, err, identity.ErrUnknownKey, tok)
		}()
	}
	wg.Wait()
	require.Equal(t, 3, iss.JWKSFetches())

	// Known keys still verify without a fetch.
	_, err := v.Verify(context.Background(), iss.Mint(t))
	require.NoError(t, err)
	require.Equal(t, 3, iss.JWKSFetches())
}

func TestJWKSKeyRotation(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clock := newFakeClock()
	day := identitytest.ExpiresIn(24 * time.Hour) // tokens outlive the clock's jumps
	v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.Now = clock.Now })
	oldKID := iss.KeyID()
	_, err := v.Verify(context.Background(), iss.Mint(t, day))
	require.NoError(t, err)

	newKID := iss.Rotate(t, "ES256")
	clock.Advance(time.Hour - time.Minute) // keys fetched long ago, not yet stale
	id, err := v.Verify(context.Background(), iss.Mint(t, day, identitytest.Subject("after-rotation")))
	require.NoError(t, err, "a token with the new kid triggers a refetch")
	require.Equal(t, "after-rotation", id.Subject)
	require.Equal(t, 2, iss.JWKSFetches())

	// Both keys are published: tokens of the old one still verify.
	_, err = v.Verify(context.Background(), iss.Mint(t, day, identitytest.KeyID(oldKID), identitytest.Subject("old")))
	require.NoError(t, err)

	// Once the old key is withdrawn and the set refreshed, its tokens fail.
	iss.RemoveKey(oldKID)
	clock.Advance(2 * time.Hour)
	_, err = v.Verify(context.Background(), iss.Mint(t, day, identitytest.KeyID(newKID), identitytest.Subject("trigger refresh")))
	require.NoError(t, err, "stale keys keep serving while they are refreshed")
	identity.WaitForKeyFetch(v) // the background refresh the stale set started
	require.Equal(t, 3, iss.JWKSFetches())
	tok := iss.Mint(t, day, identitytest.KeyID(oldKID), identitytest.Subject("old again"))
	_, err = v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrUnknownKey, tok)
}

// SPEC 14, 19: a token verified once and cached is refused once the issuer
// withdraws its signing key, however far off its expiry, and even when
// every request presents it (cache hits alone learn the withdrawal: a hit
// on stale keys starts their refresh).
func TestJWKSWithdrawnKeyEndsCachedTokens(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clock := newFakeClock()
	v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.Now = clock.Now })
	oldKID := iss.KeyID()
	// A far expiry: what a holder of a stolen key would mint.
	tok := iss.Mint(t, identitytest.ExpiresIn(100*365*24*time.Hour), identitytest.Subject("mallory-as-admin"))
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	_, ok := identity.Remembered(v, tok)
	require.True(t, ok, "cached")

	iss.Rotate(t, "ES256")
	iss.RemoveKey(oldKID)
	clock.Advance(2 * time.Hour) // the keys are stale now
	fetches := iss.JWKSFetches()
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err, "served from the cache while the refresh runs")
	identity.WaitForKeyFetch(v)
	require.Equal(t, fetches+1, iss.JWKSFetches(), "the cache hit on stale keys refreshed them")

	_, err = v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrUnknownKey, tok)
	_, ok = identity.Remembered(v, tok)
	require.False(t, ok, "the middleware's cache lookup refuses it too")
	// And it stays refused.
	clock.Advance(time.Minute)
	_, err = v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrUnknownKey, tok)
}

// SPEC 19: a JWKS without a usable key is a failed fetch, not the
// issuer's keys: the keys held keep verifying (cached tokens and new
// ones), and a token with an unknown kid cannot be judged meanwhile.
func TestJWKSEmptySetKeepsKeys(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clock := newFakeClock()
	day := identitytest.ExpiresIn(24 * time.Hour)
	v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.Now = clock.Now })
	kid := iss.KeyID()
	cached := iss.Mint(t, day)
	_, err := v.Verify(context.Background(), cached)
	require.NoError(t, err)

	iss.RemoveKey(kid) // the issuer now publishes {"keys":[]}
	clock.Advance(2 * time.Hour)
	fetches := iss.JWKSFetches()
	_, err = v.Verify(context.Background(), cached)
	require.NoError(t, err)
	identity.WaitForKeyFetch(v)
	require.Equal(t, fetches+1, iss.JWKSFetches(), "refreshed")

	_, err = v.Verify(context.Background(), cached)
	require.NoError(t, err, "the cached token still verifies")
	_, err = v.Verify(context.Background(), iss.Mint(t, day, identitytest.KeyID(kid), identitytest.Subject("new")))
	require.NoError(t, err, "a new token of the key held verifies")
	clock.Advance(2 * time.Minute)
	tok := iss.Mint(t, day, identitytest.KeyID("rotated"))
	_, err = v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrKeysUnavailable, tok)
	require.Contains(t, err.Error(), "no usable signature key")
}

// A refreshed set that still publishes a cached token's key (unchanged, or
// with a key added by a rotation) keeps the token cached: it is not
// verified again (a hit allocates nothing; a verification ~70 times).
func TestJWKSRefreshKeepsCachedTokensOfKeptKeys(t *testing.T) {
	for _, kidless := range []bool{false, true} {
		t.Run(fmt.Sprint("kidless=", kidless), func(t *testing.T) {
			iss := identitytest.NewIssuer(t)
			clock := newFakeClock()
			v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.Now = clock.Now })
			opts := []identitytest.TokenOption{identitytest.ExpiresIn(24 * time.Hour)}
			if kidless {
				opts = append(opts, identitytest.Header("kid", nil))
			}
			tok := iss.Mint(t, opts...)
			verify := func() {
				t.Helper()
				_, err := v.Verify(context.Background(), tok)
				require.NoError(t, err)
			}
			verify()
			require.Zero(t, testing.AllocsPerRun(20, verify), "a cache hit")

			for _, change := range []func(){
				func() {},                         // the same set
				func() { iss.Rotate(t, "ES256") }, // a key added
			} {
				change()
				fetches := iss.JWKSFetches()
				clock.Advance(2 * time.Hour)
				verify() // starts the refresh
				identity.WaitForKeyFetch(v)
				require.Equal(t, fetches+1, iss.JWKSFetches())
				// The first hit on the new set rebinds the entry (a few
				// allocations); it does not verify the token again.
				fresh := iss.Mint(t, opts...)
				full := mallocs(func() { _, _ = v.Verify(context.Background(), fresh) })
				require.Less(t, 3*mallocs(verify), full, "rebound, not verified again")
				require.Zero(t, testing.AllocsPerRun(20, verify), "still a cache hit")
				_, ok := identity.Remembered(v, tok)
				require.True(t, ok)
			}
		})
	}
}

// mallocs returns how many heap allocations f made.
func mallocs(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.Mallocs - before.Mallocs
}

// SPEC 19: cached keys keep working while the JWKS endpoint is down.
func TestJWKSOutageKeepsCachedKeys(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clock := newFakeClock()
	day := identitytest.ExpiresIn(24 * time.Hour) // tokens outlive the clock's jumps
	v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.Now = clock.Now })

	iss.SetJWKSAvailable(false)
	clock.Advance(3 * time.Hour) // stale: each verification may try a refresh
	for i := range 3 {
		_, err := v.Verify(context.Background(), iss.Mint(t, day, identitytest.Subject(fmt.Sprint("user-", i))))
		require.NoError(t, err)
		clock.Advance(2 * time.Minute)
	}
	identity.WaitForKeyFetch(v)
	require.Greater(t, iss.JWKSFetches(), 1, "refreshes were tried during the outage")

	// During the outage an unknown kid cannot be judged: the keys may have
	// rotated. It is unavailable (503), not invalid (401).
	tok := iss.Mint(t, day, identitytest.KeyID("rotated-during-outage"))
	_, err := v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrKeysUnavailable, tok)
	require.True(t, identity.Unavailable(err))

	identity.WaitForKeyFetch(v)
	iss.SetJWKSAvailable(true)
	clock.Advance(2 * time.Minute)
	_, err = v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrUnknownKey, tok)
}

// SPEC 19: no key at all (cold start, issuer down) → ErrKeysUnavailable,
// then recovery without restarting.
func TestJWKSColdStart(t *testing.T) {
	t.Run("JWKS endpoint down", func(t *testing.T) {
		iss := identitytest.NewIssuer(t)
		iss.SetJWKSAvailable(false)
		clock := newFakeClock()
		v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.Now = clock.Now })
		tok := iss.Mint(t)
		_, err := v.Verify(context.Background(), tok)
		requireVerifyError(t, err, identity.ErrKeysUnavailable, tok)
		require.True(t, identity.Unavailable(err))
		require.Contains(t, err.Error(), "status 503")

		iss.SetJWKSAvailable(true)
		clock.Advance(2 * time.Second)
		_, err = v.Verify(context.Background(), tok)
		require.NoError(t, err)
	})
	t.Run("issuer unreachable, discovery needed", func(t *testing.T) {
		iss := identitytest.NewIssuer(t)
		transport := &switchableTransport{}
		transport.down.Store(true)
		clock := newFakeClock()
		v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
			Issuer:     iss.URL(),
			Audiences:  []string{iss.Audience()},
			HTTPClient: &http.Client{Transport: transport},
			Now:        clock.Now,
		})
		require.NoError(t, err, "an unreachable issuer is not a configuration error")
		t.Cleanup(v.Close)
		tok := iss.Mint(t)
		_, err = v.Verify(context.Background(), tok)
		requireVerifyError(t, err, identity.ErrKeysUnavailable, tok)

		// Retries are spaced (once per second while cold), not one per
		// request.
		before := transport.requests.Load()
		for range 20 {
			_, err = v.Verify(context.Background(), tok)
			requireVerifyError(t, err, identity.ErrKeysUnavailable, tok)
		}
		require.Equal(t, before, transport.requests.Load())

		transport.down.Store(false)
		clock.Advance(2 * time.Second)
		_, err = v.Verify(context.Background(), tok)
		require.NoError(t, err)
	})
}

func TestJWKSDiscovery(t *testing.T) {
	cases := []struct {
		name      string
		opts      []identitytest.IssuerOption
		wantPaths []string // metadata paths the verifier must have read
	}{
		{"openid configuration", nil, []string{"/.well-known/openid-configuration"}},
		{"RFC 8414 when openid configuration is missing", []identitytest.IssuerOption{identitytest.WithoutOpenIDConfiguration()},
			[]string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"}},
		{"issuer with a path", []identitytest.IssuerOption{identitytest.WithIssuerPath("/tenant")},
			[]string{"/tenant/.well-known/openid-configuration"}},
		{"RFC 8414 path-inserted for an issuer with a path",
			[]identitytest.IssuerOption{identitytest.WithIssuerPath("/tenant"), identitytest.WithoutOpenIDConfiguration()},
			[]string{"/tenant/.well-known/openid-configuration", "/.well-known/oauth-authorization-server/tenant"}},
		{"issuer with a trailing slash", []identitytest.IssuerOption{identitytest.WithTrailingSlash(), identitytest.WithoutOpenIDConfiguration()},
			[]string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			iss := identitytest.NewIssuer(t, tc.opts...)
			v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.JWKSURL = "" })
			_, err := v.Verify(context.Background(), iss.Mint(t))
			require.NoError(t, err)
			for _, p := range tc.wantPaths {
				require.Equal(t, 1, iss.Requests(p), p)
			}
			require.Equal(t, 1, iss.JWKSFetches())
		})
	}
}

// metadataServer serves a discovery document with the given issuer and
// jwks_uri, and a JWKS answer of the given size.
func metadataServer(t *testing.T, issuer func(base string) string, jwksBody func() []byte, chunked bool) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	base := "http://" + srv.Listener.Addr().String()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": issuer(base), "jwks_uri": base + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		body := jwksBody()
		if chunked {
			// Write in pieces with flushes so that no Content-Length is sent.
			for len(body) > 0 {
				n := min(len(body), 64<<10)
				_, _ = w.Write(body[:n])
				w.(http.Flusher).Flush()
				body = body[n:]
			}
			return
		}
		_, _ = w.Write(body)
	})
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestJWKSFetchLimits(t *testing.T) {
	huge := func() []byte {
		return []byte(`{"keys":[{"kty":"oct","k":"` + strings.Repeat("A", 2<<20) + `"}]}`)
	}
	sameIssuer := func(base string) string { return base }
	cases := []struct {
		name    string
		issuer  func(base string) string
		body    func() []byte
		chunked bool
		mod     func(*identity.JWTConfig)
		want    string
	}{
		{"JWKS over 1 MiB with Content-Length", sameIssuer, huge, false, nil, "response too large"},
		{"JWKS over 1 MiB, streamed", sameIssuer, huge, true, nil, "response too large"},
		{"JWKS over a configured limit", sameIssuer, func() []byte { return []byte(`{"keys":[]}` + strings.Repeat(" ", 200)) }, false,
			func(c *identity.JWTConfig) { c.MaxResponseBytes = 100 }, "response too large"},
		{"JWKS not a JWK Set", sameIssuer, func() []byte { return []byte(`{"hello":"world"}`) }, false, nil, "not a JWK Set"},
		{"JWKS without keys", sameIssuer, func() []byte { return []byte(`{"keys":[]}`) }, false, nil, "no usable signature key among 0"},
		{"JWKS without a usable key", sameIssuer, func() []byte {
			return []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"RSA","use":"enc","n":"AQAB","e":"AQAB"}]}`)
		}, false, nil, "no usable signature key among 2"},
		{"discovery names another issuer", func(string) string { return "https://evil.example.com" },
			func() []byte { return []byte(`{"keys":[]}`) }, false, nil, "is not"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := metadataServer(t, tc.issuer, tc.body, tc.chunked)
			cfg := identity.JWTConfig{Issuer: srv.URL, Audiences: []string{"https://api.example.com"}}
			if tc.mod != nil {
				tc.mod(&cfg)
			}
			v, err := identity.NewJWTVerifier(context.Background(), cfg)
			require.NoError(t, err)
			t.Cleanup(v.Close)
			tok := forgeUnsigned(srv.URL)
			_, err = v.Verify(context.Background(), tok)
			requireVerifyError(t, err, identity.ErrKeysUnavailable, tok)
			require.Contains(t, err.Error(), tc.want)
		})
	}
}

// forgeUnsigned returns an RS256 token for issuer with a garbage signature:
// enough to reach the key lookup.
func forgeUnsigned(issuer string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "kid": "k1"}) + "." +
		enc(map[string]any{"iss": issuer, "sub": "x", "aud": "https://api.example.com", "exp": time.Now().Add(time.Hour).Unix()}) +
		".c2lnbmF0dXJl"
}

func TestJWKSFetchTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select { // hang until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
		Issuer:       srv.URL,
		Audiences:    []string{"https://api.example.com"},
		JWKSURL:      srv.URL + "/jwks",
		FetchTimeout: 50 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(v.Close)
	tok := forgeUnsigned(srv.URL)
	_, err = v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrKeysUnavailable, tok)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// A request whose context ends while it waits for a fetch is not judged.
func TestJWKSWaitRespectsContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // do not wait for the warm-up fetch either
	v, err := identity.NewJWTVerifier(ctx, identity.JWTConfig{
		Issuer:    srv.URL,
		Audiences: []string{"https://api.example.com"},
		JWKSURL:   srv.URL + "/jwks",
	})
	require.NoError(t, err)
	t.Cleanup(v.Close)
	tok := forgeUnsigned(srv.URL)
	_, err = v.Verify(ctx, tok)
	requireVerifyError(t, err, identity.ErrKeysUnavailable, tok)
	require.ErrorIs(t, err, context.Canceled)
}

func TestJWTVerifierCache(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clock := newFakeClock()
	calls := 0
	v := newVerifier(t, iss, func(c *identity.JWTConfig) {
		c.Now = clock.Now
		c.UserID = func(id *identity.Identity) (string, error) { calls++; return id.Subject, nil }
	})
	tok := iss.Mint(t, identitytest.ExpiresIn(2*time.Minute))
	first, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	second, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Same(t, first, second, "a cache hit returns the same identity")
	require.Equal(t, 1, calls, "a cache hit does not verify again")

	// Never beyond exp: past it (and the leeway), the token is checked
	// again, and refused.
	clock.Advance(2*time.Minute + 40*time.Second)
	_, err = v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrExpired, tok)
	require.Equal(t, 1, calls)

	// Between exp and exp+leeway the token is still valid but no longer
	// served from the cache.
	clock.Advance(-30 * time.Second) // exp+10s
	again, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.NotSame(t, first, again)
	require.Equal(t, 2, calls)
	// ... nor cached again: each call verifies.
	_, err = v.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.Equal(t, 3, calls)

	// Disabled cache: every call verifies.
	nocache := newVerifier(t, iss, func(c *identity.JWTConfig) { c.CacheSize = -1 })
	a, err := nocache.Verify(context.Background(), tok)
	require.NoError(t, err)
	b, err := nocache.Verify(context.Background(), tok)
	require.NoError(t, err)
	require.NotSame(t, a, b)
}

// Keys unfit for signatures are skipped when the JWKS is parsed, so tokens
// that name them find no key.
func TestJWKSSkipsUnusableKeys(t *testing.T) {
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	jwk := func(pub any, mod func(*jwkset.JWKMarshal)) map[string]any {
		j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "k1", ALG: "RS256"}})
		require.NoError(t, err)
		m := j.Marshal()
		if mod != nil {
			mod(&m)
		}
		raw, err := json.Marshal(m)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal(raw, &out))
		return out
	}
	other := jwk(&rsa2048.PublicKey, func(m *jwkset.JWKMarshal) { m.KID = "k2" })
	cases := []struct {
		name string
		key  *rsa.PrivateKey
		jwk  map[string]any
		want error // nil: accepted
	}{
		{"RSA-2048", rsa2048, jwk(&rsa2048.PublicKey, nil), nil},
		{"key_ops verify", rsa2048, jwk(&rsa2048.PublicKey, func(m *jwkset.JWKMarshal) { m.KEYOPS = []jwkset.KEYOPS{"verify"} }), nil},
		{"x5u over http, never fetched", rsa2048, jwk(&rsa2048.PublicKey, func(m *jwkset.JWKMarshal) { m.X5U = "{{base}}/cert.pem" }), nil},
		{"RSA-1024", rsa1024, jwk(&rsa1024.PublicKey, nil), identity.ErrUnknownKey},
		{"use enc", rsa2048, jwk(&rsa2048.PublicKey, func(m *jwkset.JWKMarshal) { m.USE = "enc" }), identity.ErrUnknownKey},
		{"key_ops encrypt", rsa2048, jwk(&rsa2048.PublicKey, func(m *jwkset.JWKMarshal) { m.KEYOPS = []jwkset.KEYOPS{"encrypt"} }), identity.ErrUnknownKey},
		{"symmetric", rsa2048, map[string]any{"kty": "oct", "kid": "k1", "k": "c2VjcmV0"}, identity.ErrUnknownKey},
		{"malformed modulus", rsa2048, map[string]any{"kty": "RSA", "kid": "k1", "n": "!!", "e": "AQAB"}, identity.ErrUnknownKey},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mux := http.NewServeMux()
			srv := httptest.NewUnstartedServer(mux)
			base := "http://" + srv.Listener.Addr().String()
			var certFetches atomic.Int32
			mux.HandleFunc("GET /cert.pem", func(http.ResponseWriter, *http.Request) { certFetches.Add(1) })
			mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
				k := maps.Clone(tc.jwk)
				if u, ok := k["x5u"].(string); ok {
					k["x5u"] = strings.Replace(u, "{{base}}", base, 1)
				}
				// Beside it a usable key of another kid: a set of no
				// usable key at all is a failed fetch (TestJWKSFetchLimits).
				_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{k, other}})
			})
			srv.Start()
			t.Cleanup(srv.Close)

			v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
				Issuer: base, Audiences: []string{"https://api.example.com"}, JWKSURL: base + "/jwks",
			})
			require.NoError(t, err)
			t.Cleanup(v.Close)
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
				"iss": base, "sub": "alice", "aud": "https://api.example.com", "exp": time.Now().Add(time.Hour).Unix(),
			})
			tok.Header["kid"] = "k1"
			raw, err := tok.SignedString(tc.key)
			require.NoError(t, err)
			_, err = v.Verify(context.Background(), raw)
			if tc.want == nil {
				require.NoError(t, err)
			} else {
				requireVerifyError(t, err, tc.want, raw)
			}
			require.Zero(t, certFetches.Load())
		})
	}
}

// A token without kid is verified when exactly one published key fits its
// algorithm.
func TestJWKSTokenWithoutKID(t *testing.T) {
	iss := identitytest.NewIssuer(t, identitytest.WithAlgorithm("ES256"))
	iss.Rotate(t, "RS256") // now an EC key and an RSA key, signing with RSA
	v := newVerifier(t, iss, nil)
	_, err := v.Verify(context.Background(), iss.Mint(t, identitytest.Header("kid", nil)))
	require.NoError(t, err, "the RS256 token has one candidate key")

	iss.Rotate(t, "RS256") // two RSA keys: no way to choose
	v = newVerifier(t, iss, nil)
	tok := iss.Mint(t, identitytest.Header("kid", nil))
	_, err = v.Verify(context.Background(), tok)
	requireVerifyError(t, err, identity.ErrUnknownKey, tok)
}

// Keys of an https issuer are fetched over https only: a discovery
// document that names a plain-http jwks_uri, or a JWKS URL that redirects
// to plain http, would let anyone on the path substitute keys.
func TestJWKSNeverDowngradesToPlainHTTP(t *testing.T) {
	var plainFetches atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		plainFetches.Add(1)
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(plain.Close)

	cases := []struct {
		name    string
		jwksURI func(tlsBase string) string // the discovery document's jwks_uri
		jwksURL bool                        // configure JWKSURL instead of discovering it
	}{
		{"discovered jwks_uri over http", func(string) string { return plain.URL + "/jwks" }, false},
		{"discovered jwks_uri redirects to http", func(base string) string { return base + "/redirect" }, false},
		{"configured JWKS URL redirects to http", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plainFetches.Store(0)
			mux := http.NewServeMux()
			srv := httptest.NewUnstartedServer(mux)
			srv.StartTLS()
			t.Cleanup(srv.Close)
			mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
				uri := srv.URL + "/redirect"
				if tc.jwksURI != nil {
					uri = tc.jwksURI(srv.URL)
				}
				_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": uri})
			})
			mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, plain.URL+"/jwks", http.StatusFound)
			})
			cfg := identity.JWTConfig{Issuer: srv.URL, Audiences: []string{"https://api.example.com"}, HTTPClient: srv.Client()}
			if tc.jwksURL {
				cfg.JWKSURL = srv.URL + "/redirect"
			}
			v, err := identity.NewJWTVerifier(context.Background(), cfg)
			require.NoError(t, err)
			t.Cleanup(v.Close)
			tok := forgeUnsigned(srv.URL)
			_, err = v.Verify(context.Background(), tok)
			requireVerifyError(t, err, identity.ErrKeysUnavailable, tok)
			require.Contains(t, err.Error(), "https")
			require.Zero(t, plainFetches.Load(), "nothing was fetched over plain http")
		})
	}
}

// The default client closes its connection after each fetch: none stays
// open to the JWKS endpoint between fetches.
func TestJWKSFetchKeepsNoIdleConnection(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	resp, err := http.Get(iss.JWKSURL())
	require.NoError(t, err)
	var jwks json.RawMessage
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&jwks))
	resp.Body.Close()

	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwks)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	v, err := identity.NewJWTVerifier(t.Context(), identity.JWTConfig{
		Issuer: iss.URL(), JWKSURL: srv.URL, Audiences: []string{identitytest.DefaultAudience},
	})
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	_, err = v.Verify(t.Context(), iss.Mint(t, identitytest.Subject("alice")))
	require.NoError(t, err) // the keys were fetched
	require.Eventually(t, func() bool { return open.Load() == 0 }, 5*time.Second, 10*time.Millisecond,
		"connections to the JWKS endpoint still open: %d", open.Load())
}

// redirectingRT plays a loopback JWKS URL that redirects to plain http on
// a host that is not loopback, and that host, which serves the issuer's
// real keys.
type redirectingRT struct {
	jwks string // the real JWKS, on loopback
	mu   sync.Mutex
	seen []string
}

func (r *redirectingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, req.URL.String())
	r.mu.Unlock()
	if req.URL.Host == "127.0.0.1:1" {
		return &http.Response{StatusCode: http.StatusFound, Header: http.Header{"Location": {"http://keys.attacker.example/jwks"}}, Body: http.NoBody, Request: req}, nil
	}
	u, _ := url.Parse(r.jwks)
	out := req.Clone(req.Context())
	out.URL, out.Host = u, u.Host
	return http.DefaultTransport.RoundTrip(out)
}

// TestJWKSRedirectObeysHTTPSRule: a redirect is held to the rule the
// configured URL is (https, or plain http on loopback or with
// InsecureAllowHTTP): a loopback JWKS URL redirecting to plain http on
// another host is not followed.
func TestJWKSRedirectObeysHTTPSRule(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	for _, allow := range []bool{false, true} {
		rt := &redirectingRT{jwks: iss.JWKSURL()}
		v, err := identity.NewJWTVerifier(context.Background(), identity.JWTConfig{
			Issuer: iss.URL(), Audiences: []string{iss.Audience()},
			JWKSURL: "http://127.0.0.1:1/jwks", HTTPClient: &http.Client{Transport: rt}, InsecureAllowHTTP: allow,
		})
		require.NoError(t, err)
		_, err = v.Verify(context.Background(), iss.Mint(t))
		v.Close()
		rt.mu.Lock()
		seen := slices.Clone(rt.seen)
		rt.mu.Unlock()
		if !allow {
			require.ErrorIs(t, err, identity.ErrKeysUnavailable)
			require.Equal(t, []string{"http://127.0.0.1:1/jwks"}, slices.Compact(seen), "the redirect is not followed")
			continue
		}
		require.NoError(t, err, "followed when plain http is insecurely allowed")
		require.Contains(t, seen, "http://keys.attacker.example/jwks")
	}
}
