package proxy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/internal/nilcheck"
)

// Defaults of Config.
const (
	// DefaultTimeout is the default Config.Timeout.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxResponseBytes is the default Config.MaxResponseBytes.
	DefaultMaxResponseBytes = 1 << 20
	// DefaultMaxErrorBodyBytes is the default Config.MaxErrorBodyBytes.
	DefaultMaxErrorBodyBytes = 4 << 10
	// DefaultUserAgent is the default Config.UserAgent.
	DefaultUserAgent = "idgate-proxy"
)

// Config configures a Client. BaseURL and Credential are required.
type Config struct {
	// BaseURL is the backend's base: an absolute https URL without user
	// info, query or fragment, such as "https://crm.internal/api/" (plain
	// http for a loopback host, or with InsecureAllowHTTP). Every call's
	// path is joined below its path and can never leave it. Required.
	BaseURL string
	// InsecureAllowHTTP allows a plain http BaseURL on a non-loopback
	// host. Every call carries a credential (with Forward, the user's own
	// token), which then crosses the network in clear: set it only for a
	// network that is private end to end, or encrypted below HTTP (a
	// service mesh), and prefer a Signer's short-lived, backend-only
	// tokens there. Default false.
	InsecureAllowHTTP bool
	// Credential credentials each request for the user: Forward, an
	// *Exchange, a *Signer, or your own. Required.
	Credential Credential
	// HTTPClient sends the requests. Default: a client with bounded dial,
	// TLS and header timeouts. Whichever client is given, redirects are not
	// followed (a 3xx comes back as *Error), so the credential never goes
	// anywhere but BaseURL.
	HTTPClient *http.Client
	// Timeout bounds each call, reading the response included. Default 10s.
	Timeout time.Duration
	// MaxResponseBytes bounds a response body; reading more fails with
	// ErrResponseTooLarge. Default 1 MiB.
	MaxResponseBytes int64
	// MaxErrorBodyBytes bounds the body kept in an *Error. Default 4 KiB.
	MaxErrorBodyBytes int
	// RequestID, when set and returning a non-empty string of visible ASCII
	// (at most 200 bytes), gives the X-Request-Id header sent with each call,
	// so that the backend's logs join the gateway's. Optional.
	RequestID func(context.Context) string
	// UserAgent is the User-Agent header. Default "idgate-proxy".
	UserAgent string
}

// Client calls one backend on users' behalf. It is safe for concurrent use.
type Client struct {
	base       *url.URL
	cred       Credential
	http       *http.Client
	timeout    time.Duration
	maxResp    int64
	maxErrBody int
	requestID  func(context.Context) string
	userAgent  string
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	base, err := parseEndpoint(cfg.BaseURL, !cfg.InsecureAllowHTTP)
	if err != nil {
		return nil, fmt.Errorf("proxy: Config.BaseURL %w", err)
	}
	if base.RawQuery != "" || base.ForceQuery {
		return nil, errors.New("proxy: Config.BaseURL must not have a query")
	}
	if nilcheck.IsNil(cfg.Credential) {
		return nil, errors.New("proxy: Config.Credential is required (Forward, NewExchange or NewSigner; a nil *Signer or *Exchange is none)")
	}
	for i := 0; i < len(cfg.UserAgent); i++ {
		// A control character (CR, LF) would make every request invalid.
		if c := cfg.UserAgent[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return nil, fmt.Errorf("proxy: Config.UserAgent has a control character at byte %d", i)
		}
	}
	if cfg.Timeout < 0 || cfg.MaxResponseBytes < 0 || cfg.MaxErrorBodyBytes < 0 {
		return nil, errors.New("proxy: Config Timeout, MaxResponseBytes and MaxErrorBodyBytes must not be negative")
	}
	return &Client{
		base:       base,
		cred:       cfg.Credential,
		http:       noRedirects(cfg.HTTPClient),
		timeout:    cmp.Or(cfg.Timeout, DefaultTimeout),
		maxResp:    cmp.Or(cfg.MaxResponseBytes, DefaultMaxResponseBytes),
		maxErrBody: cmp.Or(cfg.MaxErrorBodyBytes, DefaultMaxErrorBodyBytes),
		requestID:  cfg.RequestID,
		userAgent:  cmp.Or(cfg.UserAgent, DefaultUserAgent),
	}, nil
}

// Do calls the backend for the user id: method on path (joined below
// BaseURL; see Request), with in, when not nil, encoded as the JSON body,
// and a 2xx JSON response decoded into out when out is not nil. An empty
// 2xx body leaves out unchanged.
//
// A non-2xx answer is returned as *Error, whose Body the caller can read
// (errors.As). Other errors wrap ErrBadPath, ErrResponseTooLarge, the
// Credential's error (ErrAudienceMismatch, ErrExchangeFailed, ...) or the
// context's error (context.DeadlineExceeded when Timeout passed).
func (c *Client) Do(ctx context.Context, id *identity.Identity, method, path string, in, out any) error {
	var body io.Reader
	header := http.Header{"Accept": {"application/json"}}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("proxy: %s: encode request: %w", method, err)
		}
		body = bytes.NewReader(b)
		header.Set("Content-Type", "application/json")
	}
	resp, sent, err := c.send(ctx, id, method, path, body, header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return c.newError(resp, sent, id)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.CopyN(io.Discard, resp.Body, 64<<10) // let the connection be reused
		return nil
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("proxy: %s %s: read response: %w", method, sent.url, err)
	}
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("proxy: %s %s: decode response: %w", method, sent.url, err)
	}
	return nil
}

// Request is the lower-level form of Do: it sends method on path with body
// and the extra header (either may be nil) for the user id, and returns the
// response whatever its status, like http.Client.Do. The caller must close
// the body; reading more than MaxResponseBytes from it fails with
// ErrResponseTooLarge, and the call's Timeout runs until it is closed.
//
// path is relative to BaseURL whether or not it starts with "/", and may
// end in "?query". A path that could leave the base ("..", "%2e%2e",
// encoded slashes, backslashes, empty segments, control characters, a
// fragment) is refused with ErrBadPath before anything is sent. The
// Credential's Authorization header replaces any in header.
func (c *Client) Request(ctx context.Context, id *identity.Identity, method, path string, body io.Reader, header http.Header) (*http.Response, error) {
	resp, _, err := c.send(ctx, id, method, path, body, header)
	return resp, err
}

// sent describes a request as sent: its URL for messages (no query) and
// the credential of its Authorization header, so that an error body can be
// redacted.
type sent struct {
	url        string
	credential string
}

func (c *Client) send(ctx context.Context, id *identity.Identity, method, path string, body io.Reader, header http.Header) (*http.Response, sent, error) {
	u, err := resolve(c.base, path)
	if err != nil {
		return nil, sent{}, fmt.Errorf("proxy: %s: %w", method, err)
	}
	s := sent{url: displayURL(u)}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		cancel()
		return nil, s, fmt.Errorf("proxy: %s %s: %w", method, s.url, err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v) // canonicalizes k, so that Del below sees every spelling
		}
	}
	req.Header.Set("User-Agent", c.userAgent)
	if c.requestID != nil {
		if rid := c.requestID(ctx); validRequestID(rid) {
			req.Header.Set("X-Request-Id", rid)
		}
	}
	req.Header.Del("Authorization")
	if err := c.cred.Apply(ctx, req, id); err != nil {
		cancel()
		return nil, s, fmt.Errorf("proxy: %s %s: credential: %w", method, s.url, err)
	}
	s.credential = credentialOf(req.Header.Get("Authorization"))

	resp, err := c.http.Do(req)
	if err != nil {
		cancel()
		return nil, s, fmt.Errorf("proxy: %s %s: %w", method, s.url, transportError(err))
	}
	// A 2xx answer too large to read is refused before it is read. Not
	// another status: an error's body is read bounded whatever its length
	// (Do's *Error, Request's caller through limitedBody), nor an answer
	// with no body (HEAD, 204, 304), whose Content-Length is the resource's.
	if resp.ContentLength > c.maxResp && resp.StatusCode/100 == 2 && hasBody(method, resp.StatusCode) {
		resp.Body.Close()
		cancel()
		return nil, s, fmt.Errorf("proxy: %s %s: %w", method, s.url, ErrResponseTooLarge)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: c.maxResp, cancel: cancel}
	return resp, s, nil
}

// newError builds the *Error for a non-2xx response: the start of its body,
// with the credential sent and the user's token redacted.
func (c *Client) newError(resp *http.Response, s sent, id *identity.Identity) error {
	secrets := []string{s.credential}
	if id != nil {
		secrets = append(secrets, id.Token())
	}
	// Read enough past the bound that a secret starting inside it is read
	// whole and redacted before the cut.
	extra := 0
	for _, sec := range secrets {
		extra = max(extra, len(sec))
	}
	limit := c.maxErrBody + extra + 1
	// Read past MaxResponseBytes if need be: stopping there would leave
	// "more" false, and a secret the stop cut in two unredacted.
	var body io.Reader = resp.Body
	if lb, ok := body.(*limitedBody); ok {
		body = lb.rc
	}
	buf, err := io.ReadAll(io.LimitReader(body, int64(limit)))
	// The body may go on: the read stopped at its bound, or failed (the
	// connection dropped, the call's Timeout) possibly inside a secret.
	more := len(buf) == limit || err != nil
	buf = redact(buf, secrets...)
	if more {
		// The read may have stopped inside a secret, which redact could
		// not match: its start ends the buffer, and once secrets before
		// it were replaced by the shorter "[redacted]", it may lie before
		// the cut. Drop it.
		buf = trimSecretStart(buf, secrets...)
	}
	e := &Error{
		Status:      resp.StatusCode,
		Method:      resp.Request.Method,
		URL:         s.url,
		ContentType: resp.Header.Get("Content-Type"),
		Body:        buf,
	}
	if len(buf) > c.maxErrBody {
		e.Body = buf[:c.maxErrBody:c.maxErrBody]
	}
	e.Truncated = more || len(buf) > c.maxErrBody
	return e
}

// credentialOf returns the credential in an Authorization header value:
// what follows the scheme ("Bearer", "Basic", "DPoP", in any case), or the
// whole value when it has no scheme.
func credentialOf(authorization string) string {
	if _, cred, ok := strings.Cut(authorization, " "); ok {
		if cred = strings.TrimSpace(cred); cred != "" {
			return cred
		}
	}
	return authorization
}

// hasBody reports whether an answer to method with status carries a body
// (RFC 9110 §6.4.1).
func hasBody(method string, status int) bool {
	return method != http.MethodHead && status != http.StatusNoContent && status != http.StatusNotModified && status/100 != 1
}

// trimSecretStart drops from the end of b the longest suffix that is how
// one of secrets starts, as it is or escaped (redactEscaped; the read,
// bounded by the secrets' own lengths, stops inside an escaped one that
// starts near the bound).
func trimSecretStart(b []byte, secrets ...string) []byte {
	cut := len(b)
	for _, sec := range secrets {
		for n := min(len(sec)-1, len(b)); n > 0; n-- {
			if bytes.HasSuffix(b, []byte(sec[:n])) {
				cut = min(cut, len(b)-n)
				break
			}
		}
		if sec == "" || !hasEscapable(sec) {
			continue
		}
		for i := max(0, len(b)-maxEscapedLen*len(sec)); i < cut; i++ {
			if escapedPrefix(b[i:], sec) {
				cut = i
				break
			}
		}
	}
	return b[:cut]
}

// displayURL returns u without user info, query or fragment: what error
// messages show.
func displayURL(u *url.URL) string {
	v := *u
	v.User, v.RawQuery, v.ForceQuery, v.Fragment, v.RawFragment = nil, "", false, "", ""
	return v.String()
}

// validRequestID reports whether id is worth sending as X-Request-Id:
// non-empty, at most 200 bytes of visible ASCII.
func validRequestID(id string) bool {
	return id != "" && len(id) <= 200 && isTokenChars(id)
}

// limitedBody is a response body that fails with ErrResponseTooLarge past
// left bytes, and ends the call's context when closed.
type limitedBody struct {
	rc     io.ReadCloser
	left   int64
	cancel context.CancelFunc
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrResponseTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n, b.left = int(b.left), -1
		return n, ErrResponseTooLarge
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error {
	err := b.rc.Close()
	b.cancel()
	return err
}
