package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/internal/nilcheck"
)

// Transport is an http.RoundTripper that credentials each request for the
// identity in its context (identity.FromContext), so that a backend can be
// reached through an ordinary *http.Client:
//
//	hc := &http.Client{Transport: &proxy.Transport{Credential: proxy.Forward(aud)}}
//	req, _ := http.NewRequestWithContext(r.Context(), "GET", backendURL, nil)
//	resp, err := hc.Do(req) // r.Context() carries the user's identity
//
// A request without an identity fails with ErrNoIdentity. A redirect to
// another scheme or host than the first request's is sent without a
// credential, and so is every later hop of that chain, wherever it goes.
//
// Unlike Client, Transport does not fix the destination: give such an
// http.Client to code that only calls the backend the Credential is for.
// It adds no timeout or size limit either; set them on the http.Client.
type Transport struct {
	// Base sends the credentialed request. Default http.DefaultTransport.
	Base http.RoundTripper
	// Credential credentials each request. Required.
	Credential Credential
	// InsecureAllowHTTP allows credentialing a plain http request to a
	// host that is not loopback, as Config.InsecureAllowHTTP does for
	// Client. Default false: such a request fails, and nothing is sent.
	InsecureAllowHTTP bool
}

// RoundTrip applies the Credential to a copy of req and sends it with Base.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if nilcheck.IsNil(t.Credential) {
		closeBody(req)
		return nil, errors.New("proxy: Transport.Credential is required")
	}
	id, ok := identity.FromContext(req.Context())
	if !ok {
		closeBody(req)
		return nil, fmt.Errorf("proxy: %s %s: %w", req.Method, displayURL(req.URL), ErrNoIdentity)
	}
	r2 := req.Clone(req.Context())
	for k := range r2.Header {
		if strings.EqualFold(k, "Authorization") {
			delete(r2.Header, k)
		}
	}
	if !crossOriginRedirect(req) {
		if req.URL.Scheme == "http" && !t.InsecureAllowHTTP && !isLoopback(req.URL.Hostname()) {
			closeBody(req)
			return nil, fmt.Errorf("proxy: %s %s: a credential is not sent in clear to a host that is not loopback: use https (or Transport.InsecureAllowHTTP)", req.Method, displayURL(req.URL))
		}
		if err := t.Credential.Apply(req.Context(), r2, id); err != nil {
			closeBody(req)
			return nil, fmt.Errorf("proxy: %s %s: credential: %w", req.Method, displayURL(req.URL), err)
		}
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r2)
}

// crossOriginRedirect reports whether req follows a redirect chain that
// has left the scheme and host of its first request, the one the caller
// made for the backend: at req or at any hop before it. Comparing req
// with the request just before would let a second hop within another host
// (backend → other/a → other/b) carry the credential there, and a chain
// that comes back (backend → other → backend/any/path) would let another
// host choose what the credential is sent with.
func crossOriginRedirect(req *http.Request) bool {
	first := req
	var hops []*url.URL
	for first.Response != nil && first.Response.Request != nil {
		hops = append(hops, first.URL)
		first = first.Response.Request
	}
	for _, u := range hops {
		if u.Scheme != first.URL.Scheme || u.Host != first.URL.Host {
			return true
		}
	}
	return false
}

// closeBody closes req's body, as a RoundTripper must even on error.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
