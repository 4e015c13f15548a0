package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxIdleConnsPerHost is how many idle keep-alive connections the default
// client keeps per backend: about as many as calls a busy gateway has in
// flight to it, so that a burst does not end in connections closed after
// one call and dialled again for the next (net/http's default keeps 2, and
// http.DefaultTransport at most 100 in all).
const maxIdleConnsPerHost = 256

// newDefaultHTTPClient returns the client used when a configuration gives
// none: its own transport (not http.DefaultTransport, which others may
// change) with bounded dial, TLS handshake and header waits, and a
// keep-alive pool sized for a gateway (maxIdleConnsPerHost per backend,
// idle ones closed after 90 seconds). The overall per-call bound is the
// caller's Timeout, applied through the context.
func newDefaultHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 30 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.MaxIdleConns = 0 // no total bound: a Client calls one backend
	t.MaxIdleConnsPerHost = maxIdleConnsPerHost
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// noRedirects returns a shallow copy of c (or of a default client when c is
// nil) that does not follow redirects: a 3xx comes back as the response. A
// credential is meant for one destination, and following a redirect could
// carry it (or a client secret) somewhere else.
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = newDefaultHTTPClient()
	} else {
		cp := *c
		c = &cp
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

// parseEndpoint checks that raw is an absolute http(s) URL with a host and
// no user info or fragment. When httpsOnly is set, plain http is allowed
// only for a loopback host.
func parseEndpoint(raw string, httpsOnly bool) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("is not a URL: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("must be an absolute http or https URL, got scheme %q", u.Scheme)
	case u.Host == "":
		return nil, errors.New("has no host")
	case u.User != nil:
		return nil, errors.New("must not carry user info; use the client credential fields")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, errors.New("must not have a fragment")
	case httpsOnly && u.Scheme == "http" && !isLoopback(u.Hostname()):
		return nil, errors.New("must use https (plain http is allowed for loopback hosts only)")
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// transportError strips a *url.Error, whose text repeats the full request
// URL (query included), keeping what it wraps.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
