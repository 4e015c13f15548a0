package proxy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeTokenEndpoint is a minimal RFC 8693 token endpoint for the tests that
// need answers identitytest does not give (bad token types, odd lifetimes,
// misbehaving servers). The n-th exchange issues the token "xt-<n>".
type fakeTokenEndpoint struct {
	srv       *httptest.Server
	calls     atomic.Int64
	release   chan struct{} // when not nil, each exchange waits for it to close
	started   chan struct{} // receives once per exchange, as it starts
	mu        sync.Mutex
	lastForm  url.Values
	lastBasic [2]string
	answer    func(w http.ResponseWriter, form url.Values, n int64) // nil: success
	expiresIn any
}

func newFakeTokenEndpoint(t testing.TB) *fakeTokenEndpoint {
	t.Helper()
	f := &fakeTokenEndpoint{expiresIn: 300, started: make(chan struct{}, 100)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTokenEndpoint) URL() string { return f.srv.URL + "/token" }

func (f *fakeTokenEndpoint) form() url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastForm
}

func (f *fakeTokenEndpoint) serve(w http.ResponseWriter, r *http.Request) {
	n := f.calls.Add(1)
	f.started <- struct{}{}
	if f.release != nil {
		<-f.release
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id, secret, _ := r.BasicAuth()
	// RFC 6749 §2.3.1: both are form-encoded before Basic encoding.
	id, _ = url.QueryUnescape(id)
	secret, _ = url.QueryUnescape(secret)
	f.mu.Lock()
	f.lastForm, f.lastBasic = r.PostForm, [2]string{id, secret}
	f.mu.Unlock()
	if f.answer != nil {
		f.answer(w, r.PostForm, n)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token":      fmt.Sprintf("xt-%d", n),
		"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
		"token_type":        "Bearer",
		"expires_in":        f.expiresIn,
	})
}

// fakeClock is a clock tests move by hand; safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// backend is a test backend that counts its requests and keeps the last
// one's headers and path.
type backend struct {
	srv     *httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	header  http.Header
	rawPath string
}

// newBackend starts a backend answering with h (nil: 200 {"ok":true}).
func newBackend(t testing.TB, h http.HandlerFunc) *backend {
	t.Helper()
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		b.mu.Lock()
		b.header, b.rawPath = r.Header.Clone(), r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			b.rawPath += "?" + r.URL.RawQuery
		}
		b.mu.Unlock()
		if h == nil {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"ok":true}`))
			return
		}
		h(w, r)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

// last returns the last request's header and escaped path (with query).
func (b *backend) last() (http.Header, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.header, b.rawPath
}
