package identity

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/idgate/idgate/internal/nilcheck"
	"github.com/idgate/idgate/internal/reqctx"
	"github.com/idgate/idgate/scopes"
)

// MiddlewareConfig configures Middleware. The zero value is valid for a
// plain net/http service; an MCP server sets ResourceMetadata and Scopes.
type MiddlewareConfig struct {
	// ResourceMetadata is the absolute http(s) URL of the RFC 9728
	// protected-resource metadata, sent as resource_metadata="..." in every
	// challenge so that clients can discover the authorization server. It
	// comes from configuration only, never from the request's Host or
	// X-Forwarded-* headers. Default: none (challenges then lack it; fine
	// for non-MCP uses). A value that is not an absolute http or https URL
	// without a fragment is a configuration error.
	ResourceMetadata string

	// Scopes is sent as scope="..." in 401 challenges: the scopes a client
	// should request. Each must be a valid OAuth scope token (RFC 6749
	// §3.3: no spaces, quotes or backslashes). Default: none (no scope
	// parameter).
	Scopes []string

	// Realm is sent as realm="..." in every challenge. Default: none.
	Realm string

	// RetryAfter is the Retry-After sent with a 503 (keys or introspection
	// unavailable), rounded up to whole seconds. Default (zero): 10s.
	// Negative is a configuration error.
	RetryAfter time.Duration

	// Logger receives one record per refused request: Debug for 400 and
	// 401, Info for 503, with the method, path (never the query) and the
	// error. The token is never logged: should an error's text contain it,
	// it is replaced by "[REDACTED]". Default: nil, no logging.
	Logger *slog.Logger

	// OnFailure, when set, is called for every refused request with the
	// status written and the error (redacted like the log). Package audit
	// uses it. It runs before the response is written and must not write
	// to the response. Default: nil.
	OnFailure func(r *http.Request, status int, err error)

	// Optional, when true, lets a request that carries no token at all
	// through without an identity (FromContext reports false), so that one
	// handler can serve anonymous and signed-in users. A bad token, or a
	// malformed request, is still refused. Default: false, a token is
	// required.
	Optional bool
}

// Middleware returns a handler wrapper that admits only requests with a
// valid bearer token: it extracts the token with BearerToken, verifies it
// with v, and calls next with a request whose context carries the Identity
// (read it with FromContext). It panics on an invalid configuration, like
// http.Handle on an invalid pattern; use NewMiddleware to get an error
// instead.
//
// Behind audit.Middleware, when next would get the very request the audit
// layer passed on, with the context it was passed on with and no identity
// held there yet, the audit layer's context keeps the Identity and next
// gets that request itself, with no copy made: FromContext reads the same
// Identity from it, and so does the context the audit event is written
// with.
//
// Refused requests get the RFC 6750 / RFC 9728 answer Describe names, with
// Cache-Control: no-store and a short JSON body that never carries the
// token or a verifier's internal message:
//
//   - no token: 401, WWW-Authenticate: Bearer resource_metadata="…",
//     scope="…" (no error parameter);
//   - malformed request (query token, two Authorization headers, "Bearer"
//     alone): 400 with error="invalid_request";
//   - bad token (malformed, bad signature, expired, wrong issuer or
//     audience, inactive…): 401 with error="invalid_token" and a fixed
//     error_description;
//   - the Verifier refused the token for its scopes (an error wrapping a
//     *scopes.InsufficientScopeError): 403 with error="insufficient_scope"
//     and scope="…" naming the error's Required scopes;
//   - keys or introspection unavailable: 503 with Retry-After and no
//     challenge, so that the client keeps its token.
//
// Every method is gated except OPTIONS, which passes through untouched and
// without an identity: CORS preflight requests carry no credentials (MCP
// clients in browsers must be able to preflight). A handler behind the
// middleware must therefore do nothing privileged on OPTIONS.
//
// The middleware sets no headers on admitted requests: caching of
// authenticated responses is the handler's call (shared caches do not store
// responses to requests with an Authorization header unless told to).
func Middleware(v Verifier, cfg MiddlewareConfig) func(http.Handler) http.Handler {
	mw, err := NewMiddleware(v, cfg)
	if err != nil {
		panic(err)
	}
	return mw
}

// NewMiddleware is like Middleware but returns an error for an invalid
// configuration: a nil Verifier, a ResourceMetadata that is not an absolute
// http(s) URL, an invalid scope, or a negative RetryAfter.
func NewMiddleware(v Verifier, cfg MiddlewareConfig) (func(http.Handler) http.Handler, error) {
	g, err := newGate(v, cfg)
	if err != nil {
		return nil, err
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("identity: Middleware: nil next handler")
		}
		return &gatedHandler{gate: g, next: next}
	}, nil
}

// gate holds the validated configuration and the precomputed answers.
type gate struct {
	v          Verifier
	memory     tokenMemory // v's cache, when v is one of this package's verifiers
	log        *slog.Logger
	onFailure  func(*http.Request, int, error)
	optional   bool
	retryAfter string
	// realm and resourceMetadata build the one challenge that is not
	// precomputed: a 403 names the scopes its error requires.
	realm, resourceMetadata string
	// answers[i] answers failureAt(i).
	answers [len(failures) + 2]answer
}

// answer is a precomputed refusal.
type answer struct {
	status    int
	challenge string // WWW-Authenticate value; empty: none
	body      []byte
}

func newGate(v Verifier, cfg MiddlewareConfig) (*gate, error) {
	if nilcheck.IsNil(v) {
		return nil, fmt.Errorf("identity: Middleware: nil Verifier (%T)", v)
	}
	if cfg.ResourceMetadata != "" {
		if err := checkAbsoluteURL(cfg.ResourceMetadata); err != nil {
			return nil, fmt.Errorf("identity: MiddlewareConfig.ResourceMetadata: %w", err)
		}
	}
	for _, s := range cfg.Scopes {
		if !scopes.ValidScope(s) {
			return nil, fmt.Errorf("identity: MiddlewareConfig.Scopes: %q is not a valid scope (RFC 6749 §3.3: non-empty, no spaces, quotes or backslashes)", s)
		}
	}
	if cfg.RetryAfter < 0 {
		return nil, fmt.Errorf("identity: MiddlewareConfig.RetryAfter: negative (%v)", cfg.RetryAfter)
	}
	retry := cfg.RetryAfter
	if retry == 0 {
		retry = 10 * time.Second
	}
	memory, _ := v.(tokenMemory)
	g := &gate{
		v:                v,
		memory:           memory,
		log:              cfg.Logger,
		onFailure:        cfg.OnFailure,
		optional:         cfg.Optional,
		realm:            cfg.Realm,
		resourceMetadata: cfg.ResourceMetadata,
		retryAfter:       strconv.FormatInt(int64((retry+time.Second-1)/time.Second), 10),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	for i := range g.answers {
		f := failureAt(i)
		a := answer{status: f.status, body: appendErrorBody(nil, f.status, f.code, f.description)}
		if f.status != http.StatusServiceUnavailable {
			c := Challenge{
				Realm:            cfg.Realm,
				ResourceMetadata: cfg.ResourceMetadata,
				Error:            f.code,
				ErrorDescription: f.description,
			}
			if f.code == "" || f.code == ErrorCodeInvalidToken {
				// The scopes to ask for when (re)authorizing. A 400 is
				// not an invitation to authorize; a 403 names the
				// scopes its error requires (insufficientScopeChallenge).
				c.Scope = cfg.Scopes
			}
			if f.code == "" {
				c.ErrorDescription = "" // RFC 6750 §3.1: no error information
			}
			a.challenge = c.String()
		}
		g.answers[i] = a
	}
	return g, nil
}

// checkAbsoluteURL reports whether s is an absolute http or https URL with a
// host and no fragment.
func checkAbsoluteURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("must be an absolute http(s) URL: %w", urlParseError(s, err))
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("must be an absolute http(s) URL, got %q", shownURL(s))
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("must not have a fragment, got %q", shownURL(s))
	}
	return nil
}

// gatedHandler is the handler Middleware returns.
type gatedHandler struct {
	*gate
	next http.Handler
}

func (h *gatedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		h.next.ServeHTTP(w, r)
		return
	}
	tok, err := bearerCandidate(r)
	if err == nil && h.memory != nil {
		if id, ok := h.memory.remembered(tok); ok {
			h.next.ServeHTTP(w, withIdentity(r, id))
			return
		}
	}
	if err == nil && !isB64Token(tok) {
		err = errNotB64Token
	}
	if err == nil {
		var id *Identity
		id, err = h.v.Verify(r.Context(), tok)
		if err == nil {
			if id == nil {
				err = fmt.Errorf("identity: verifier returned no identity and no error: %w", ErrVerifierUnavailable)
			} else {
				h.next.ServeHTTP(w, withIdentity(r, id))
				return
			}
		}
	} else if h.optional && errors.Is(err, ErrMissingToken) {
		h.next.ServeHTTP(w, r)
		return
	}
	h.refuse(w, r, tok, err)
}

// withIdentity returns r with id in its context (FromContext). When r is
// the very request an audit.Middleware in front passed on, with the context
// it was passed on with, that middleware's context node keeps id and r
// itself is returned: no copy of the request is made. Otherwise r's copy
// with NewContext's context is.
func withIdentity(r *http.Request, id *Identity) *http.Request {
	ctx := r.Context()
	// Only the request's own context can hold the identity: no lookup
	// (which, without an audit layer, would walk the whole context).
	if h, ok := ctx.(reqctx.Holder); ok && h.HoldIdentity(r, id) {
		return r
	}
	return r.WithContext(NewContext(ctx, id))
}

// refuse answers a refused request and reports it.
func (h *gatedHandler) refuse(w http.ResponseWriter, r *http.Request, tok string, err error) {
	i := failureIndex(err)
	a := &h.answers[i]
	challenge := a.challenge
	if i == len(failures) {
		challenge = h.insufficientScopeChallenge(err)
	}
	err = redact(err, tok)
	if h.onFailure != nil {
		h.onFailure(r, a.status, err)
	}
	level := slog.LevelDebug
	if a.status == http.StatusServiceUnavailable {
		level = slog.LevelInfo
	}
	ctx := r.Context()
	if h.log.Enabled(ctx, level) {
		h.log.LogAttrs(ctx, level, "identity: request refused",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", a.status),
			slog.String("error", err.Error()))
	}
	hdr := w.Header()
	if challenge != "" {
		hdr.Set("WWW-Authenticate", challenge)
	}
	if a.status == http.StatusServiceUnavailable {
		hdr.Set("Retry-After", h.retryAfter)
	}
	writeErrorBody(w, a.status, a.body)
}

// insufficientScopeChallenge returns the challenge of a 403 for err, a
// *scopes.InsufficientScopeError: its scope parameter names every scope the
// operation requires (SPEC 10), those that are valid scope tokens, so that
// the client knows what to ask for when it re-authorizes.
func (g *gate) insufficientScopeChallenge(err error) string {
	c := Challenge{
		Realm:            g.realm,
		ResourceMetadata: g.resourceMetadata,
		Error:            insufficientScopeFailure.code,
		ErrorDescription: insufficientScopeFailure.description,
	}
	var ise *scopes.InsufficientScopeError
	if errors.As(err, &ise) {
		var valid []string
		for _, s := range ise.Required {
			if scopes.ValidScope(s) {
				valid = append(valid, s)
			}
		}
		c.Scope = scopes.Of(valid...).List()
	}
	return c.String()
}

// redactedError hides a token that a verifier's error text contains, while
// keeping errors.Is and errors.As working.
type redactedError struct {
	err error
	msg string
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact returns err, or a wrapper whose text has tok replaced when err's
// text contains it.
func redact(err error, tok string) error {
	if tok == "" {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, tok) {
		return err
	}
	return &redactedError{err: err, msg: strings.ReplaceAll(msg, tok, "[REDACTED]")}
}
