package identity_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/identity/identitytest"
)

// inside reports whether s's bytes lie within buf's memory: whether
// keeping s keeps buf.
func inside(s, buf string) bool {
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	b := uintptr(unsafe.Pointer(unsafe.StringData(buf)))
	return len(s) > 0 && p >= b && p < b+uintptr(len(buf))
}

// paddedHeader is an Authorization header value with pad spaces between
// "Bearer" and tok, made in one allocation as net/http makes a header
// value.
func paddedHeader(tok string, pad int) string {
	return "Bearer " + strings.Repeat(" ", pad) + tok
}

// TestCachedTokenDoesNotPinItsHeader: BearerToken cuts the token out of
// its Authorization header without a copy, and "Bearer" may be followed by
// any number of spaces, up to the server's header limit (1 MiB by
// default). The verifiers used to keep that slice, in the cache entry and
// in the Identity, which kept the whole header value alive: a client with
// valid tokens could make each of the cache's entries (10000 by default)
// hold a megabyte instead of the token's own size. They keep a copy of
// the token now.
func TestCachedTokenDoesNotPinItsHeader(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	for _, tc := range []struct {
		name string
		v    identity.Verifier
	}{
		{"jwt", newVerifier(t, iss, nil)},
		{"introspection", newIntrospectionVerifier(t, introspectionConfig(iss))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := iss.Mint(t, identitytest.Subject("alice-"+tc.name), identitytest.ExpiresIn(time.Hour))
			header := paddedHeader(tok, 64<<10)
			var got *identity.Identity
			h := identity.Middleware(tc.v, identity.MiddlewareConfig{ResourceMetadata: prm})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = identity.FromContext(r.Context())
				w.WriteHeader(http.StatusNoContent)
			}))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header["Authorization"] = []string{header}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			require.Equal(t, http.StatusNoContent, rec.Code)
			require.NotNil(t, got)
			require.Equal(t, tok, got.Token())
			require.False(t, inside(got.Token(), header), "the Identity keeps the header")
			cached, ok := identity.CachedToken(tc.v, tok)
			require.True(t, ok, "cached")
			require.Equal(t, tok, cached)
			require.False(t, inside(cached, header), "the cache entry keeps the header")
		})
	}
}

// TestReboundCacheEntryDoesNotPinItsHeader: a cache hit on a refreshed
// key set rebinds the entry; it used to store the token just presented,
// a slice of that request's header, in place of the entry's own.
func TestReboundCacheEntryDoesNotPinItsHeader(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	clock := newFakeClock()
	v := newVerifier(t, iss, func(c *identity.JWTConfig) { c.Now = clock.Now })
	tok := iss.Mint(t, identitytest.ExpiresIn(24*time.Hour))
	_, err := v.Verify(context.Background(), tok)
	require.NoError(t, err)

	clock.Advance(2 * time.Hour)
	_, err = v.Verify(context.Background(), tok) // starts a refresh of the keys
	require.NoError(t, err)
	identity.WaitForKeyFetch(v)

	header := paddedHeader(tok, 64<<10)
	presented := header[len(header)-len(tok):]
	_, err = v.Verify(context.Background(), presented) // rebinds the entry
	require.NoError(t, err)
	cached, ok := identity.CachedToken(v, tok)
	require.True(t, ok, "cached")
	require.False(t, inside(cached, header), "the rebound entry keeps the header")
}
