package mcpserver

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

// Server is an OAuth-protected MCP server: a go-sdk mcp.Server behind the
// idgate chain. Create it with New, add tools with AddTool, and serve
// Handler. It is safe for concurrent use; tools may be added while it
// serves.
type Server struct {
	cfg    *config
	policy *scopes.Policy
	mcp    *mcp.Server
	sdk    http.Handler
	// direct is the direct transport, when it serves the endpoint (then
	// also sdk); nil when go-sdk's handler does.
	direct *directTable
	// stateless is the stateless direct transport, when it serves the
	// endpoint (then also sdk).
	stateless *statelessDirect
	// relater is the direct transport in use, if any: the receiving
	// middleware relates the calls it answers to their streams.
	relater interface {
		relate(context.Context, mcp.Request) context.Context
	}
	limiter *limiter
	// listens bounds each user's subscriptions/listen streams (nil: no
	// bound).
	listens *listenStreams
	mirror  *asMirror
	handler http.Handler

	// toolOpts maps tool names to *toolOptions.
	toolOpts sync.Map
	// gen counts policy changes; what is derived from the policy is cached
	// with the generation it was computed at, and recomputed when stale.
	gen atomic.Uint64
	// prmJSON caches the encoded metadata.
	prmJSON atomic.Pointer[metadataCache]
	// gated caches the handlers behind the identity middleware, whose 401
	// challenges name the policy's scopes.
	gated atomic.Pointer[gatedChains]
	// bodies are the buffers the step-up check reads bodies into.
	bodies bodyPool
	// shut is set by Shutdown: no session is opened any more (toSDK).
	shut atomic.Bool
}

// gatedChains are the inner chains behind one identity middleware.
type gatedChains struct {
	gen        uint64
	mcp, debug http.Handler
}

// New validates cfg and returns a Server with no tools. It fails with a
// message naming the Config field to fix. When the Verifier reports its
// audiences (identity.AudienceReporter) and none of them is PublicURL, up
// to a trailing "/", New logs a warning naming both: clients ask for
// tokens for PublicURL, so such a verifier refuses them unless the
// authorization server issues tokens for another identifier (as Entra ID
// and Okta do with api:// audiences, which is why it is not an error).
func New(cfg Config) (*Server, error) {
	c, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	warnAudience(c)
	s := &Server{cfg: c, policy: scopes.NewPolicy(c.Hierarchy), listens: newListenStreams(c.MaxListenStreamsPerUser)}

	var opts mcp.ServerOptions
	if c.ServerOptions != nil {
		opts = *c.ServerOptions
	}
	opts.SetCacheable = privateReads(opts.SetCacheable)
	impl := &mcp.Implementation{Name: c.Name, Version: c.Version}
	s.mcp = mcp.NewServer(impl, &opts)
	switch {
	case c.direct():
		d := newDispatcher(opts.Logger)
		s.mcp.AddReceivingMiddleware(d.middleware(s.receiving))
		s.direct = newDirectTable(s.mcp, &opts, c.SessionTimeout, !c.InsecureDisableAuth, d, s.sdkHandler())
		s.direct.maxPerUser = c.MaxSessionsPerUser
		s.sdk, s.relater = s.direct, s.direct
	case c.statelessDirect():
		d := newDispatcher(opts.Logger)
		s.mcp.AddReceivingMiddleware(d.middleware(s.receiving))
		s.stateless = newStatelessDirect(s.mcp, impl, &opts, s.sdkHandler(), !c.InsecureDisableAuth, c.JSONResponse, d, s.toolHeaders)
		s.sdk, s.relater = s.stateless, s.stateless
	default:
		s.mcp.AddReceivingMiddleware(s.receiving)
		s.sdk = s.sdkHandler()
	}
	if !c.RateLimit.Disabled {
		s.limiter = newLimiter(c.RateLimit, c.Logger)
	}
	if c.MirrorAuthorizationServerMetadata {
		s.mirror = newASMirror(c.AuthorizationServers[0], c.HTTPClient, c.MirrorTTL, c.Logger)
	}
	s.handler = s.buildMux()
	return s, nil
}

// sdkHandler returns go-sdk's handler for the MCP endpoint, configured
// from Config.
func (s *Server) sdkHandler() http.Handler {
	c := s.cfg
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp }, &mcp.StreamableHTTPOptions{
		Stateless:      c.Stateless,
		JSONResponse:   c.JSONResponse,
		SessionTimeout: c.SessionTimeout,
		EventStore:     c.EventStore,
		Logger:         c.Logger,
		// idgate checks the Host header itself (toSDK), knowing the
		// public host; go-sdk's check refuses it behind a local proxy.
		DisableLocalhostProtection: true,
		MaxRequestBodyBytes:        c.MaxBodyBytes,
	})
}

// warnAudience logs a warning when the Verifier reports audiences and none
// is PublicURL, with or without a trailing "/".
func warnAudience(c *config) {
	ar, ok := c.Verifier.(identity.AudienceReporter)
	if !ok || c.InsecureDisableAuth {
		return
	}
	auds := ar.Audiences()
	if len(auds) == 0 {
		return
	}
	want := strings.TrimSuffix(c.PublicURL, "/")
	for _, a := range auds {
		if strings.TrimSuffix(a, "/") == want {
			return
		}
	}
	c.Logger.Warn("mcpserver: the Verifier does not accept Config.PublicURL as audience: "+
		"clients ask for tokens for PublicURL (the metadata's resource), which it will refuse "+
		"unless the authorization server issues them for one of its audiences instead "+
		"(Entra ID and Okta may use an api:// identifier); if not, add PublicURL to the verifier's audiences",
		slog.String("public_url", c.PublicURL), slog.Any("verifier_audiences", auds))
}

// MCPServer returns the underlying go-sdk server, to add prompts and
// resources or middleware. Tools added to it directly, bypassing AddTool,
// are neither listed nor callable: every tool must declare its scopes.
// Add receiving middleware before the server serves: the direct
// transports dispatch tools/call past idgate's own middleware only while
// no other wraps it, which they check on each message that goes through
// a session, so one added later is skipped until the next such message
// (see the package documentation, "Transport").
func (s *Server) MCPServer() *mcp.Server { return s.mcp }

// Handler returns the server's whole HTTP surface:
//
//   - the MCP endpoint at the path of Config.PublicURL, behind the chain
//     audit → Origin/CORS → body limit → per-address rate limit → bearer
//     token verification → per-user rate limit → scope step-up → go-sdk;
//   - the protected-resource metadata at the path-aware and the root
//     well-known URLs (no authentication);
//   - GET /healthz;
//   - /.well-known/oauth-authorization-server when
//     Config.MirrorAuthorizationServerMetadata is set;
//   - GET /debug-token when Config.DebugToken is set.
//
// Everything else is 404: the server never serves /authorize, /token or
// /register.
func (s *Server) Handler() http.Handler { return s.handler }

// LimitByAddress wraps h with the per-address rate limit of the MCP
// endpoint, for routes of one's own that do costly work before they know
// the caller, such as verifying a bearer token: the same limit
// (Config.RateLimit.IP), the same client address (RateLimitConfig's
// TrustedProxies and X-Forwarded-For rule, an IPv6 client counted by its
// /64) and the same counter, so that an address has one budget for the
// MCP endpoint and every route wrapped.
//
// A request over the limit gets 429, and 503 when the Store fails (unless
// RateLimitConfig.FailOpen), with Retry-After; the RateLimit headers are
// set as on the MCP endpoint, and the decision is recorded in the request's
// audit entry when h runs behind an audit.Auditor's middleware. refuse,
// when not nil, writes the body of a refusal, given its status, with the
// headers already set (to answer in the route's own error format);
// otherwise the body is the MCP endpoint's short JSON error. With
// RateLimitConfig.Disabled, h is returned as it is.
func (s *Server) LimitByAddress(h http.Handler, refuse func(w http.ResponseWriter, r *http.Request, status int)) http.Handler {
	switch {
	case s.limiter == nil:
		return h
	case refuse == nil:
		return s.limiter.byIP(h)
	}
	return s.limiter.byIPWith(h, refuse)
}

func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(exactPattern(s.cfg.mcpPath), s.outer(s.mcpInner()))
	mux.HandleFunc(exactPattern(s.cfg.prmPath), s.serveMetadata)
	if s.cfg.prmPath != prmRootPath {
		mux.HandleFunc(exactPattern(prmRootPath), s.serveMetadata)
	}
	mux.HandleFunc(exactPattern(healthPath), serveHealth)
	if s.mirror != nil {
		mux.Handle(exactPattern(asMetadataPath), s.mirror)
	}
	if s.cfg.DebugToken {
		mux.Handle(exactPattern(debugTokenPath), s.outer(s.debugInner()))
	}
	return mux
}

// exactPattern returns a ServeMux pattern matching exactly path.
func exactPattern(path string) string {
	if strings.HasSuffix(path, "/") {
		return path + "{$}"
	}
	return path
}

// outer is the part of the chain before authentication: audit, Origin and
// CORS, body limit, per-address rate limit; then inner, which starts with
// the identity middleware.
//
// The three checks run one after the other in one handler, not as three
// nested middlewares: each layer's frame stays on the connection
// goroutine's stack while go-sdk decodes the request below it, and with
// all of them the stack outgrew its first 8 KiB on every call (copied to a
// new one after each garbage collection had shrunk it: ~5 µs a call under
// load). See docs/benchmarks.md, "where a tools/call's time goes".
func (s *Server) outer(inner func() http.Handler) http.Handler {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.admitOrigin(w, r) && s.admitBody(w, r) && (s.limiter == nil || s.limiter.admitIP(w, r)) {
			inner().ServeHTTP(w, r)
		}
	})
	if s.cfg.Audit != nil {
		h = s.cfg.Audit.Middleware(h)
	}
	return h
}

// mcpInner returns the chain after the per-address limit for the MCP
// endpoint.
func (s *Server) mcpInner() func() http.Handler {
	if s.cfg.InsecureDisableAuth {
		sdk := s.toSDK(s.sdk)
		return func() http.Handler { return sdk }
	}
	return func() http.Handler { return s.gate().mcp }
}

// debugInner returns the chain after the per-address limit for
// /debug-token.
func (s *Server) debugInner() func() http.Handler {
	return func() http.Handler { return s.gate().debug }
}

// gate returns the chains behind the identity middleware, built with the
// policy's current scopes.
func (s *Server) gate() *gatedChains {
	gen := s.gen.Load()
	if g := s.gated.Load(); g != nil && g.gen == gen {
		return g
	}
	mw, err := identity.NewMiddleware(s.cfg.Verifier, identity.MiddlewareConfig{
		ResourceMetadata: s.cfg.prmURL,
		Scopes:           s.supportedScopes(),
		Logger:           s.cfg.Logger,
		OnFailure:        onAuthFailure,
	})
	if err != nil {
		// Unreachable: PublicURL and scopes were validated.
		s.cfg.Logger.Error("mcpserver: building the identity middleware", slog.String("error", err.Error()))
		broken := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusInternalServerError, "server misconfigured")
		})
		return &gatedChains{mcp: broken, debug: broken}
	}
	sdk := s.toSDK(s.sdk)
	if s.relater == nil {
		// go-sdk's handler reads the caller from the request's context;
		// the direct transports bind their slow paths themselves.
		sdk = bindSession(sdk)
	}
	g := &gatedChains{
		gen:   gen,
		mcp:   mw(s.afterAuthStepUp(sdk)),
		debug: mw(s.afterAuth(http.HandlerFunc(s.serveDebugToken))),
	}
	s.gated.Store(g)
	return g
}

// policyChanged invalidates what is derived from the policy.
func (s *Server) policyChanged() { s.gen.Add(1) }

// onAuthFailure records a refused authentication in the audit entry.
func onAuthFailure(r *http.Request, status int, err error) {
	_, code, _ := identity.Describe(err)
	d, reason := audit.Deny, code
	switch {
	case status >= 500:
		d, reason = audit.Error, "verifier_unavailable"
	case reason == "":
		reason = "missing_token"
	}
	audit.EntryFrom(r.Context()).SetDecision(d, reason)
}

// Shutdown closes every session the server holds, as a DELETE would: each
// once the calls it is handling have returned, its streams ended. From
// then on the MCP endpoint opens no session: a POST without
// Mcp-Session-Id is refused with 503, in every mode, whether idgate keeps
// the session table (the default mode) or go-sdk does (GoSDKTransport, an
// EventStore, JSON answers, ServerOptions.GetSessionID); a request on a
// closed session gets 404. Stateless, every POST is refused with 503:
// each is a session of its own, and one (a 2026-07-28
// subscriptions/listen stream) may last as long as its client keeps it
// open, which nothing would end after Shutdown. A session whose opening
// request was under way as Shutdown began is closed when that request
// ends. Call it after http.Server.Shutdown
// (which waits for the requests in flight, not for sessions, which outlive
// them), so that no session keeps its goroutines and idle timer for up to
// SessionTimeout after the server is gone. It returns ctx's error if ctx
// ends first, the remaining sessions still closing in the background. It
// leaves the Verifier, the audit trail and the rate-limit store, which
// the caller owns, open.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shut.Store(true)
	var closers []func()
	direct := map[*mcp.ServerSession]bool{}
	if s.direct != nil {
		for _, ds := range s.direct.shutdown() {
			closers = append(closers, ds.close)
			direct[ds.ss] = true
		}
	}
	// go-sdk's own sessions (GoSDKTransport, EventStore, JSON answers, the
	// stateless path's); the direct table's close theirs, draining first.
	for ss := range s.mcp.Sessions() {
		if !direct[ss] {
			closers = append(closers, func() { _ = ss.Close() })
		}
	}
	var wg sync.WaitGroup
	for _, c := range closers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c()
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// afterAuth records the caller in the audit entry and applies the per-user
// rate limit.
func (s *Server) afterAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.admitUser(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// afterAuthStepUp is afterAuth then stepUp in one handler (one frame on
// the stack below which go-sdk runs, as in outer).
func (s *Server) afterAuthStepUp(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.admitUser(w, r) {
			return
		}
		if r.Method == http.MethodGet && !s.cfg.InsecureStreamsOutliveTokens {
			var end context.CancelFunc
			if w, r, end = s.getStreamUntilExpiry(w, r); r == nil {
				return
			}
			defer end()
		}
		pb, ok := s.admitStepUp(w, r)
		if pb != nil {
			defer s.bodies.put(pb)
		}
		if !ok {
			return
		}
		if s.cfg.EndListenStreamsAtTokenExpiry && pb != nil && pb.ok && !pb.batch && len(pb.msgs) == 1 && methodIs(pb.msgs[0].method, "subscriptions/listen") {
			// Protocol 2026-07-28's long-lived stream is this POST: it
			// ends with its token, as a GET stream does.
			var end context.CancelFunc
			if r, end = s.streamUntilExpiry(w, r); r == nil {
				return
			}
			defer end()
		}
		if s.listens != nil && pb != nil && pb.ok && carriesListen(pb.msgs) {
			// A listen stream lasts as long as the client keeps it: each
			// user holds a bounded number (Config.MaxListenStreamsPerUser).
			if id, ok := identity.FromContext(r.Context()); ok {
				var done func()
				r, done = s.listens.open(r, userKey(id))
				defer done()
			}
		}
		var batch *batchCalls
		if pb != nil && pb.batch && pb.calls > 0 && s.cfg.Audit != nil {
			// Each call of the batch is audited by an event of its own
			// (recordBatchCall).
			batch = new(batchCalls)
			r = r.WithContext(context.WithValue(r.Context(), batchKey{}, batch))
		}
		next.ServeHTTP(w, r)
		if batch != nil {
			s.recordCallsNeverRun(r.Context(), pb.msgs, pb.calls, batch)
		}
		if pb != nil && pb.calls > 0 {
			noOutcome(audit.EntryFrom(r.Context()))
		}
	})
}

// reasonCallPending is the audit reason of a request whose tool calls were
// allowed by the scope check but none of which has recorded its outcome
// yet; reasonNoOutcome replaces it when the request ends so.
const (
	reasonCallPending = "call_pending"
	reasonNoOutcome   = "no_outcome"
)

// noOutcome records, in the audit entry of a request carrying tool calls,
// that none of them recorded an outcome: go-sdk refused the call before
// any handler ran (params it cannot decode: a JSON-RPC error in a 200), or
// the client left before the call ended. The event would otherwise say
// "allow" for a tool that never ran.
func noOutcome(e *audit.Entry) {
	if d, reason := e.Decision(); d == audit.Allow && reason == reasonCallPending {
		e.SetDecision(audit.Deny, reasonNoOutcome)
	}
}

// batchKey is the context key marking a request that is a JSON-RPC batch
// carrying tools/call messages; its value is the request's *batchCalls.
type batchKey struct{}

// batchCalls are the tools/call messages of a JSON-RPC batch that reached
// the server's handler (Server.call), each of which writes an event of its
// own: the others, which go-sdk refused before any handler ran (params it
// cannot decode, answered with a JSON-RPC error in the 200), are audited
// by recordCallsNeverRun once the request is done.
type batchCalls struct {
	mu      sync.Mutex
	started []string // the tools of the calls that reached the handler
	// refused is set when the request was refused whole before go-sdk saw
	// it (toSDK: host, shutting down): its calls were never let through,
	// and the request's event alone audits them, as for a batch refused
	// for its scopes or its rate.
	refused bool
}

// refuseBatch marks the batch r carries, if any, as refused whole
// (batchCalls.refused).
func refuseBatch(r *http.Request) {
	if b, ok := r.Context().Value(batchKey{}).(*batchCalls); ok {
		b.mu.Lock()
		b.refused = true
		b.mu.Unlock()
	}
}

// start records that a call of tool reached the handler.
func (b *batchCalls) start(tool string) {
	b.mu.Lock()
	b.started = append(b.started, tool)
	b.mu.Unlock()
}

// recordCallsNeverRun writes, for each tools/call of the batch msgs (calls
// of them) that never reached the handler (batch.start), the event a call
// would have written, saying it had no outcome (reasonNoOutcome), and records that in
// the request's entry (audit.Entry.SetOutcome), so that the request's
// event does not say "allow" for a batch one of whose calls was refused.
// A call go-sdk starts after the request ended (its client gone) is
// audited here and again by its own event. A batch refused whole before
// go-sdk saw it (batchCalls.refused) gets no such events.
func (s *Server) recordCallsNeverRun(ctx context.Context, msgs []peeked, calls int, batch *batchCalls) {
	batch.mu.Lock()
	started, refused := slices.Clone(batch.started), batch.refused
	batch.mu.Unlock()
	if refused || len(started) >= calls {
		return // every call ran: the usual case, which costs no name
	}
	entry := audit.EntryFrom(ctx)
	for i := range msgs {
		tool, ok := callee(&msgs[i])
		if !ok {
			continue
		}
		if j := slices.Index(started, tool); j >= 0 {
			started = slices.Delete(started, j, j+1)
			continue
		}
		out := audit.Outcome{MCPMethod: "tools/call", Tool: tool, Decision: audit.Deny, Reason: reasonNoOutcome}
		entry.SetOutcome(out)
		s.recordBatchCall(ctx, &out, time.Now())
	}
}

// streamUntilExpiry bounds a GET stream (unless
// Config.InsecureStreamsOutliveTokens) or a 2026-07-28
// subscriptions/listen POST (with Config.EndListenStreamsAtTokenExpiry) by
// its token: the request's
// context ends at the token's "exp", so that the stream, which would
// otherwise deliver the session's messages for as long as the session
// lives, stops when the access it was opened with does (the client opens
// another with a fresh token). A token already past its exp, though
// within the verifier's leeway, opens no stream: it is answered 401 as an
// expired token, so that the client refreshes first instead of
// reconnecting to a stream that ends at once. It returns the request to
// serve and the function that releases its deadline, or nil having
// answered.
func (s *Server) streamUntilExpiry(w http.ResponseWriter, r *http.Request) (*http.Request, context.CancelFunc) {
	id, ok := identity.FromContext(r.Context())
	if !ok || id.ExpiresAt.IsZero() {
		return r, func() {}
	}
	if !time.Now().Before(id.ExpiresAt) {
		onAuthFailure(r, http.StatusUnauthorized, identity.ErrExpired)
		_, code, desc := identity.Describe(identity.ErrExpired)
		identity.WriteChallenge(w, http.StatusUnauthorized, identity.Challenge{
			ResourceMetadata: s.cfg.prmURL,
			Scope:            s.supportedScopes(),
			Error:            code,
			ErrorDescription: desc,
		})
		return nil, nil
	}
	ctx, cancel := context.WithDeadline(r.Context(), id.ExpiresAt)
	return r.WithContext(ctx), cancel
}

// chargeBatchCalls charges the caller's rate limit for the n tools/call
// messages of a JSON-RPC batch (protocol 2025-03-26) beyond the one the
// request was charged for, so that a batch of calls costs what as many
// requests would: one request carries up to peekMaxMessages of them. It
// reports whether the request goes on, having answered it otherwise, as
// the per-user limit does. A refusal's Retry-After is the time until the
// whole batch fits, since the caller sends it again whole. A batch of
// more calls than the burst never fits: it is refused without charging
// its calls, and without Retry-After.
func (s *Server) chargeBatchCalls(w http.ResponseWriter, r *http.Request, n int) bool {
	id, ok := identity.FromContext(r.Context())
	if !ok || s.limiter == nil {
		return true
	}
	if n >= s.cfg.RateLimit.User.Burst { // n+1 calls in all
		audit.EntryFrom(r.Context()).SetDecision(audit.RateLimited, "user_rate_limited")
		writeError(w, http.StatusTooManyRequests, "rate limit exceeded: the batch holds more calls than the limit's burst")
		return false
	}
	key := s.limiter.keys.key("user:", id.Issuer, "|", id.Subject)
	for range n {
		if !s.limiter.allowRest(w, r, key, s.cfg.RateLimit.User, s.limiter.userPolicy, "user", n) {
			return false
		}
	}
	return true
}

// admitUser is afterAuth's check: it reports whether the request goes on,
// having refused it otherwise.
func (s *Server) admitUser(w http.ResponseWriter, r *http.Request) bool {
	id, ok := identity.FromContext(r.Context())
	if !ok { // OPTIONS passes the identity middleware without one
		return true
	}
	audit.EntryFrom(r.Context()).SetIdentity(id.Subject, id.Issuer, id.ClientID)
	// "user:" + userKey(id), remembered for a caller seen again.
	return s.limiter == nil || s.limiter.allow(w, r, s.limiter.keys.key("user:", id.Issuer, "|", id.Subject), s.cfg.RateLimit.User, s.limiter.userPolicy, "user")
}

// admitBody refuses bodies over Config.MaxBodyBytes: at once when
// Content-Length says so, else while the body is read. It also gives the
// body Config.BodyReadTimeout to arrive: a read deadline on the connection,
// which net/http lifts once the body has been read to its end (it then
// watches the connection for the client going away).
//
// It reports whether the request goes on, having refused it otherwise.
func (s *Server) admitBody(w http.ResponseWriter, r *http.Request) bool {
	if r.ContentLength > s.cfg.MaxBodyBytes {
		audit.EntryFrom(r.Context()).SetDecision(audit.Deny, "body_too_large")
		writeError(w, http.StatusRequestEntityTooLarge, "request body too large")
		return false
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
		// Not every ResponseWriter can set deadlines; without one the
		// http.Server's own timeouts are all there is.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyReadTimeout))
	}
	return true
}

// toSDK is the end of the chain, in one handler (one frame on the stack
// while go-sdk serves the request, as in outer): it protects against DNS
// rebinding, refuses a request that would open a session once Shutdown
// has begun (503, in every mode: go-sdk's handler has no such check;
// audited with reason "shutting_down"),
// then hands the request to go-sdk and records in the audit entry how
// go-sdk ended it.
//
// DNS rebinding: a request that reached a loopback address must name a
// loopback host or the public host. (go-sdk's own check, turned off, would
// refuse the public host behind a local reverse proxy.)
//
// go-sdk's own refusals (unknown session, a session bound to another user,
// a bad request) replace the decision the step-up layer had set to allow;
// the status is the one the audit middleware's ResponseWriter saw, so no
// second wrapper is needed. A decision the MCP layer took on a tools/call
// (receiving.go) stands: from protocol 2026-07-28 on a call's protocol
// error has an HTTP status of its own (an unknown tool 400, a tool's
// "method not found" 404), which is not a refusal of the request.
func (s *Server) toSDK(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entry := audit.EntryFrom(r.Context())
		if local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok &&
			isLoopbackLocal(local) && !isLoopbackAddr(r.Host) && !s.cfg.isPublicHost(r.Host) {
			entry.SetDecision(audit.Deny, "host")
			refuseBatch(r)
			writeError(w, http.StatusForbidden, "host not allowed")
			return
		}
		d0, reason0 := entry.Decision()
		if s.shut.Load() && s.opensSession(r) {
			entry.SetDecision(audit.Error, "shutting_down")
			refuseBatch(r)
			http.Error(w, "Service Unavailable: the server is shutting down", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
		if s.shut.Load() && s.direct == nil && s.opensSession(r) {
			// Shutdown began while this request opened a session in
			// go-sdk's table, and may not have seen it (the direct
			// table closes its own, see directTable.open).
			s.closeSDKSessions()
		}
		if entry == nil {
			return
		}
		if d, reason := entry.Decision(); d != d0 || reason != reason0 {
			return // the MCP layer decided
		}
		switch st := entry.Status(); {
		case st == http.StatusForbidden:
			entry.SetDecision(audit.Deny, "session_user_mismatch")
		case st == http.StatusNotFound:
			entry.SetDecision(audit.Deny, "unknown_session")
		case st == http.StatusRequestEntityTooLarge:
			entry.SetDecision(audit.Deny, "body_too_large")
		case st >= 400 && st < 500:
			entry.SetDecision(audit.Deny, "bad_request")
		case st >= 500:
			entry.SetDecision(audit.Error, "mcp_error")
		}
	})
}

// opensSession reports whether r would open a session on the MCP
// endpoint: a POST without Mcp-Session-Id, or any POST when stateless.
func (s *Server) opensSession(r *http.Request) bool {
	return r.Method == http.MethodPost && (s.cfg.Stateless || r.Header.Get(headerSessionID) == "")
}

// closeSDKSessions closes the sessions of go-sdk's server, for a server
// whose session table go-sdk keeps.
func (s *Server) closeSDKSessions() {
	for ss := range s.mcp.Sessions() {
		_ = ss.Close()
	}
}

// serveHealth answers GET /healthz.
func serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	}
}

// writeError writes a short fixed error message as a JSON body.
func writeError(w http.ResponseWriter, status int, msg string) {
	b := strconv.AppendQuote([]byte(`{"error":`), msg)
	b = append(b, "}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
