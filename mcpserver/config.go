package mcpserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/internal/nilcheck"
	"github.com/idgate/idgate/scopes"
)

// DefaultMaxBodyBytes is the default for Config.MaxBodyBytes: 1 MiB.
const DefaultMaxBodyBytes = 1 << 20

// DefaultBodyReadTimeout is the default for Config.BodyReadTimeout.
const DefaultBodyReadTimeout = 30 * time.Second

// DefaultSessionTimeout is the default for Config.SessionTimeout.
const DefaultSessionTimeout = time.Hour

// DefaultMaxSessionsPerUser is the default for Config.MaxSessionsPerUser.
const DefaultMaxSessionsPerUser = 64

// DefaultMaxListenStreamsPerUser is the default for
// Config.MaxListenStreamsPerUser.
const DefaultMaxListenStreamsPerUser = 64

// Default rate limits (see RateLimitConfig).
const (
	// DefaultUserRate is the default number of requests a user may make per
	// DefaultRatePeriod.
	DefaultUserRate = 600
	// DefaultIPRate is the default number of requests a client address may
	// make per DefaultRatePeriod, before authentication.
	DefaultIPRate = 1200
	// DefaultRatePeriod is the default rate-limit window.
	DefaultRatePeriod = time.Minute
)

// Config configures a Server. New validates it and fails with a message
// naming the field to fix. The zero value of every optional field is a
// secure default.
type Config struct {
	// Name is the server's name: the MCP implementation name and the
	// "resource_name" of the protected-resource metadata. Required.
	Name string

	// Version is the MCP implementation version. Default "0.0.0".
	Version string

	// PublicURL is the canonical absolute URL of the MCP endpoint as clients
	// reach it, such as "https://api.example.com/mcp". Required. It is the
	// "resource" of the protected-resource metadata, the base of the
	// "resource_metadata" URL in every challenge, and the audience a token
	// must name (configure the Verifier with it; New logs a warning when
	// the Verifier reports audiences, as identity's verifiers do, and none
	// is this URL). The endpoint is served at
	// its path. It must use https, except for loopback hosts (development),
	// and carry no query, fragment or user info. URLs the server announces
	// always come from here, never from a request's Host or X-Forwarded-*
	// headers.
	PublicURL string

	// AuthorizationServers lists the issuer URLs of the authorization
	// servers whose tokens the server accepts, announced as
	// "authorization_servers" in the protected-resource metadata. Required
	// (at least one) unless InsecureDisableAuth is set.
	AuthorizationServers []string

	// Verifier turns bearer tokens into identities, for example
	// identity.NewJWTVerifier configured with PublicURL as audience.
	// Required unless InsecureDisableAuth is set.
	Verifier identity.Verifier

	// InsecureDisableAuth serves the MCP endpoint without any
	// authentication. Every caller is anonymous with no scopes: only tools
	// declared scopes.Public() can be listed and called. It exists for the
	// MCP conformance suite, which cannot send tokens; never use it in
	// production. Default false.
	InsecureDisableAuth bool

	// AdditionalScopes are advertised besides the scopes the tools
	// declare: in the metadata's "scopes_supported" and in the "scope" of
	// 401 challenges, so that a client signing in asks for them too. Use
	// them for scopes no tool requires but the server still wants in the
	// token, such as "openid email profile" for a user's profile, or the
	// scopes a backend reached on the user's behalf checks. With
	// StepUpIncludeGrantedScopes, those the caller holds are kept in 403
	// challenges as well. Each must be an RFC 6749 scope token (printable
	// ASCII without spaces, quotes or backslashes); offline_access is
	// refused, since it is never advertised. Duplicates are ignored.
	// Default none.
	AdditionalScopes []string

	// Hierarchy, when set, lets granted scopes stand for others ("crm:*"
	// grants "crm:read") in every scope check. Default nil: exact matching.
	Hierarchy *scopes.Hierarchy

	// StepUpIncludeGrantedScopes widens the "scope" of a 403
	// insufficient_scope challenge from the scopes the refused tool calls
	// need to those plus the caller's granted scopes that this server
	// advertises in scopes_supported (with Hierarchy, the advertised
	// scopes its granted ones stand for). No other scope is named: never
	// one the server does not advertise, never offline_access. The
	// JSON-RPC error in the body still names only what the calls need.
	//
	// Default false, as RFC 6750 §3.1 has it: the challenge names the
	// scope the resource needs, and MCP 2026-07-28 (SEP-2350) leaves it
	// to the client to add the scopes it already holds. Clients that
	// instead re-authorize with exactly the challenge's scopes, such as
	// the TypeScript SDK 1.32, drop what they had: a user who steps up
	// for one tool loses the others and signs in again for each in turn.
	// Set it for such clients; the cost is a challenge that no longer
	// says what is missing on its own, and a consent screen that lists
	// scopes the user already granted.
	StepUpIncludeGrantedScopes bool

	// Audit, when set, writes one audit event per request to the MCP
	// endpoint and to /debug-token. Default nil: no audit events. An
	// Auditor whose Logger writes through audit.JSONHandler encodes the
	// events about four times faster than through slog's JSON handler.
	Audit *audit.Auditor

	// RateLimit configures per-user and per-address rate limits. The zero
	// value enables them with the defaults.
	RateLimit RateLimitConfig

	// Stateless serves MCP without sessions (go-sdk's
	// StreamableHTTPOptions.Stateless): every POST stands alone, GET and
	// DELETE answer 405. Needed to run several replicas behind a load
	// balancer, and the only mode that speaks protocol 2026-07-28. Plain
	// calls, and tools/call, tools/list and server/discover at 2026-07-28,
	// are answered by idgate's direct transport (see GoSDKTransport and the package
	// documentation). Default false: sessions, bound to the user who
	// opened them.
	Stateless bool

	// JSONResponse answers POST requests with application/json instead of
	// a text/event-stream. Stateless, idgate's direct transport serves it
	// (see GoSDKTransport); with sessions every request then goes to
	// go-sdk's handler, whose per-session transport cannot be told to
	// answer with JSON from outside go-sdk, at about four times the CPU of
	// a call answered directly (docs/benchmarks.md, "performance:
	// configuration"); Stateless with JSONResponse costs about what the
	// default does. Default false (SSE).
	JSONResponse bool

	// GoSDKTransport serves the MCP endpoint with go-sdk's
	// StreamableHTTPHandler alone. By default, in the modes that allow it
	// (no EventStore; stateful with SSE answers and without
	// ServerOptions.GetSessionID, or Stateless), idgate answers plain calls
	// (tools/call, tools/list, ping) without go-sdk's HTTP-level decoding,
	// which allocates 32 KiB four times per request: stateful, it keeps
	// the session table itself; stateless, it opens the request's session
	// itself, as go-sdk would. A plain tools/call then goes straight to the
	// server's method handler, without the session's two further decodes.
	// Every other request goes to go-sdk's own transport, and the answers
	// on the wire are go-sdk's. See the package documentation, "Transport".
	// Default false.
	GoSDKTransport bool

	// SessionTimeout closes sessions idle for this long; a client that
	// comes back later gets 404 and starts a new session, as MCP
	// prescribes. Every initialize opens a session and few clients ever
	// DELETE theirs, so sessions that were never closed would pile up in
	// memory. Default (0): DefaultSessionTimeout (one hour).
	SessionTimeout time.Duration

	// MaxSessionsPerUser bounds the sessions one user (issuer and
	// subject) holds at once: when a user opens one more, their oldest
	// session is closed (a client still using it gets 404 at once, even
	// while one of its calls is still running, and starts another, as MCP
	// prescribes). Without a bound, one user could hold as
	// many sessions as their rate limit lets them open in SessionTimeout
	// (36 000 at the defaults), each with its goroutines and buffers. It
	// applies where idgate keeps the session table (the default mode, see
	// "Transport"); with GoSDKTransport, an EventStore, JSON answers or
	// ServerOptions.GetSessionID, go-sdk keeps it and only SessionTimeout
	// and the rate limits bound it. Default (0): DefaultMaxSessionsPerUser.
	// Negative: no bound.
	MaxSessionsPerUser int

	// InsecureStreamsOutliveTokens lets a session's GET stream go on
	// delivering the session's messages (notifications, server requests)
	// after the token it was opened with has expired, for as long as the
	// session lives. Every other request is verified each time, but a
	// stream is verified once, so by default a GET stream ends when its
	// token expires, and a token already past its "exp" (though within
	// the verifier's leeway) opens none: it gets the expired token's
	// challenge (401), so that the client refreshes first. Each GET stream
	// opens with a priming event whose id the client sends back as
	// Last-Event-ID when it reconnects: the new stream carries on from
	// there (without an EventStore, what was sent between the two streams
	// is not replayed), and clients that count reconnections without
	// progress (go-sdk's, after five) see each stream as progress. A token
	// with no "exp" (introspection may answer none) bounds no stream, and
	// its streams get no priming event. Default false.
	InsecureStreamsOutliveTokens bool

	// EndListenStreamsAtTokenExpiry ends a subscriptions/listen stream
	// (protocol 2026-07-28, where it replaces the GET stream) when the
	// token it was opened with expires, as GET streams end, and refuses to
	// open one with a token past its "exp". Default false, because a
	// listen stream has no event ids to resume from and go-sdk's client
	// (v1.8) does not open another when one ends: its subscriptions would
	// stop for the rest of the session. A listen stream carries only the
	// notifications the client subscribed to.
	EndListenStreamsAtTokenExpiry bool

	// MaxListenStreamsPerUser bounds the subscriptions/listen streams
	// (protocol 2026-07-28, where they replace a session's GET stream)
	// one user (issuer and subject) holds open at once: when a user opens
	// one more, their oldest is ended, as a stream ends at token expiry
	// (EndListenStreamsAtTokenExpiry). A listen stream costs its user one
	// rate-limit unit however long it lasts, so without a bound one user
	// could hold as many as their rate limit lets them open, each with its
	// connection, goroutines and buffers, until the client goes away.
	// The oldest goes rather than the newest being refused so that a
	// client that starts afresh is always served, and the streams of
	// clients that vanished without closing theirs are the first to go.
	// go-sdk's client (v1.8) does not open another listen stream when one
	// ends: a client whose stream was ended gets no more notifications
	// until it reconnects. The count is kept in each process. Default
	// (0): DefaultMaxListenStreamsPerUser. Negative: no bound.
	MaxListenStreamsPerUser int

	// EventStore, when set, makes SSE streams resumable (go-sdk's
	// StreamableHTTPOptions.EventStore): the events sent on each stream
	// are stored, and a POST stream opens with a priming event carrying an
	// event id when the request's Mcp-Protocol-Version is 2025-11-25 or
	// later. A client that loses a stream reconnects with GET and
	// Last-Event-ID and gets what it missed; a tool may even close its
	// stream mid-call (req.Extra.CloseSSEStream), but go-sdk offers that
	// to older clients too, which got no event id and would lose the
	// answer: check the version first. mcp.NewMemoryEventStore(nil) is a
	// bounded store in memory.
	//
	// Resumption stays bound to the session's user: the GET is
	// authenticated like every request, another user's token on the
	// session is refused (403), and events are looked up within the
	// session only. The store, like the sessions, lives in one process:
	// with several replicas, use sticky sessions, or Stateless (which has
	// nothing to resume: New refuses EventStore with Stateless).
	// Default nil: streams are not resumable.
	EventStore mcp.EventStore

	// AllowedOrigins lists the browser origins ("https://app.example.com",
	// scheme://host[:port], exact match as browsers send them: scheme and
	// host in any case here, compared in lower case, a default port
	// dropped) allowed to call the MCP endpoint.
	// The origin of PublicURL is always allowed. A request whose Origin
	// header is present and not allowed gets 403, even with a valid token.
	// Requests without an Origin header (non-browser clients) are not
	// affected. Default none.
	AllowedOrigins []string

	// MaxBodyBytes caps the size of a request body; larger bodies get 413.
	// Default (0): DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64

	// BodyReadTimeout bounds the time a client has, once its request
	// headers are in, to send the whole request body: a client that
	// trickles or stalls its body would otherwise hold a connection and a
	// goroutine for as long as it likes. A late body gets 400, or, when
	// the request was refused without reading it (401), a closed
	// connection. Once the body is read the deadline is lifted, so that
	// responses may stream for as long as they need. (http.Server's
	// ReadTimeout does the same for every route of a server; set it too.)
	// Default (0): DefaultBodyReadTimeout (30s).
	BodyReadTimeout time.Duration

	// MirrorAuthorizationServerMetadata serves the RFC 8414 metadata of
	// AuthorizationServers[0] verbatim at
	// /.well-known/oauth-authorization-server, for clients that probe the
	// MCP server's origin. The document is fetched on first use, cached
	// (see MirrorTTL), and never rewritten. Default false.
	MirrorAuthorizationServerMetadata bool

	// MirrorTTL is how long a mirrored authorization-server document is
	// served before it is fetched again. Default (0): one hour.
	MirrorTTL time.Duration

	// HTTPClient fetches the authorization-server metadata for the mirror.
	// Default: a client with a 10-second timeout.
	HTTPClient HTTPDoer

	// DebugToken serves GET /debug-token: the caller's own verified claims
	// as JSON (authentication required; the token itself is never echoed).
	// Default false.
	DebugToken bool

	// Logger receives operational logs (rate-limit store failures, mirror
	// fetch failures). Never a token. Default: slog.Default().
	Logger *slog.Logger

	// ServerOptions are passed to mcp.NewServer (instructions, capabilities,
	// handlers). idgate adds its own receiving middleware after creating
	// the server, so that tools/list stays filtered and private whatever
	// SetCacheable says. A resources/read result whose cacheScope neither
	// its handler nor SetCacheable set is marked "private" rather than
	// go-sdk's "public": its handler sees the caller and may answer each
	// user differently; one whose answer is the same for all sets
	// "public" itself. A GetSessionID set here must return ids of at
	// least 128 random bits in visible ASCII (go-sdk's default does).
	// Default nil.
	ServerOptions *mcp.ServerOptions
}

// HTTPDoer sends HTTP requests; *http.Client implements it.
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// RateLimitConfig configures rate limiting. Requests are counted per client
// address before authentication (key "ip:<address>", where an IPv6 address
// counts as its /64: "ip:2001:db8:1:2::/64") and per verified user after it
// (key "user:<issuer>|<subject>"). A request over a limit gets 429
// with Retry-After and RateLimit headers.
type RateLimitConfig struct {
	// Disabled turns rate limiting off. Default false.
	Disabled bool

	// User is the limit per verified user. Default (zero Rate):
	// DefaultUserRate requests per DefaultRatePeriod, burst the same. A
	// JSON-RPC batch counts once per tools/call it carries.
	User Limit

	// IP is the limit per client address, applied before authentication so
	// that floods do not reach the verifier. Default (zero Rate):
	// DefaultIPRate requests per DefaultRatePeriod, burst the same.
	IP Limit

	// Store keeps the counters. Default: a MemoryStore with its defaults.
	// Several replicas need a shared store.
	Store RateLimitStore

	// FailOpen lets requests through when the Store fails. Default false:
	// a Store failure answers 503 (fail closed). Failures are logged either
	// way.
	FailOpen bool

	// TrustedProxies lists the networks of reverse proxies whose
	// X-Forwarded-For header is believed. When the peer address is in one
	// of them, the client address is the right-most X-Forwarded-For entry
	// that is not itself a trusted proxy. Default none: the peer address
	// (RemoteAddr) is the client address and X-Forwarded-For is ignored.
	TrustedProxies []netip.Prefix
}

// config is a validated Config with defaults applied.
type config struct {
	Config
	publicURL  *url.URL
	origin     string // scheme://host[:port] of PublicURL
	mcpPath    string // path the MCP endpoint is mounted at
	prmPath    string // path-aware protected-resource metadata path
	prmURL     string // absolute path-aware metadata URL
	publicHost string // PublicURL's host[:port], lower case, without the scheme's default port
	allowedOrg map[string]bool
}

// Well-known paths.
const (
	prmRootPath    = "/.well-known/oauth-protected-resource"
	asMetadataPath = "/.well-known/oauth-authorization-server"
	healthPath     = "/healthz"
	debugTokenPath = "/debug-token"
)

func validate(cfg Config) (*config, error) {
	c := &config{Config: cfg}
	if strings.TrimSpace(c.Name) == "" {
		return nil, errors.New("mcpserver: Config.Name is required (the server's name, shown as resource_name in metadata)")
	}
	if c.Version == "" {
		c.Version = "0.0.0"
	}
	u, err := parseHTTPURL(c.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("mcpserver: Config.PublicURL: %w (set it to the absolute URL clients use, such as https://api.example.com/mcp)", err)
	}
	c.publicURL = u
	c.origin = u.Scheme + "://" + u.Host
	c.publicHost = stripDefaultPort(strings.ToLower(u.Host), u.Scheme)
	c.mcpPath = u.EscapedPath()
	if c.mcpPath == "" {
		c.mcpPath = "/"
	}
	if c.mcpPath == "/" {
		c.prmPath = prmRootPath
	} else {
		c.prmPath = prmRootPath + c.mcpPath
	}
	c.prmURL = c.origin + c.prmPath
	if strings.Trim(c.mcpPath, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/") != "" || strings.Contains(c.mcpPath, "//") {
		return nil, fmt.Errorf("mcpserver: Config.PublicURL: path %q: use letters, digits and -._~ between single slashes", c.mcpPath)
	}
	switch {
	case strings.HasPrefix(c.mcpPath, "/.well-known/"), c.mcpPath == healthPath, c.mcpPath == debugTokenPath:
		return nil, fmt.Errorf("mcpserver: Config.PublicURL: path %q is reserved; serve MCP at another path such as /mcp", c.mcpPath)
	}

	if !c.InsecureDisableAuth {
		if c.Verifier == nil {
			return nil, errors.New("mcpserver: Config.Verifier is required (for example identity.NewJWTVerifier with PublicURL as audience)")
		}
		if nilcheck.IsNil(c.Verifier) {
			return nil, fmt.Errorf("mcpserver: Config.Verifier is a nil %T (was the error of the constructor that made it ignored?)", c.Verifier)
		}
		if len(c.AuthorizationServers) == 0 {
			return nil, errors.New("mcpserver: Config.AuthorizationServers is required: list the issuer URL of at least one authorization server")
		}
	}
	for i, sc := range c.AdditionalScopes {
		switch {
		case !scopes.ValidScope(sc):
			return nil, fmt.Errorf("mcpserver: Config.AdditionalScopes[%d] %q is not a scope (RFC 6749: printable ASCII, no spaces, quotes or backslashes; list one scope per entry)", i, sc)
		case sc == "offline_access":
			return nil, fmt.Errorf("mcpserver: Config.AdditionalScopes[%d]: offline_access is never advertised (clients ask for it themselves when they want a refresh token); remove it", i)
		}
	}
	c.AdditionalScopes = scopes.Of(c.AdditionalScopes...).List()
	if c.InsecureDisableAuth && c.DebugToken {
		return nil, errors.New("mcpserver: Config.DebugToken needs authentication: it cannot be set with InsecureDisableAuth")
	}
	if c.InsecureDisableAuth && c.Verifier != nil {
		return nil, errors.New("mcpserver: Config.Verifier is set but InsecureDisableAuth turns authentication off: set one or the other")
	}
	for i, as := range c.AuthorizationServers {
		if _, err := parseHTTPURL(as); err != nil {
			return nil, fmt.Errorf("mcpserver: Config.AuthorizationServers[%d]: %w", i, err)
		}
	}
	if c.MirrorAuthorizationServerMetadata && len(c.AuthorizationServers) == 0 {
		return nil, errors.New("mcpserver: Config.MirrorAuthorizationServerMetadata needs Config.AuthorizationServers")
	}
	if c.MirrorTTL < 0 {
		return nil, errors.New("mcpserver: Config.MirrorTTL must not be negative")
	}
	if c.MirrorTTL == 0 {
		c.MirrorTTL = time.Hour
	}
	if nilcheck.IsNil(c.HTTPClient) {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}

	c.allowedOrg = map[string]bool{canonicalOrigin(c.origin): true}
	for i, o := range c.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			return nil, fmt.Errorf("mcpserver: Config.AllowedOrigins[%d]: %w", i, err)
		}
		c.allowedOrg[canonicalOrigin(o)] = true
	}

	switch {
	case c.MaxBodyBytes < 0:
		return nil, errors.New("mcpserver: Config.MaxBodyBytes must not be negative (0 means the 1 MiB default)")
	case c.MaxBodyBytes == 0:
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch {
	case c.BodyReadTimeout < 0:
		return nil, errors.New("mcpserver: Config.BodyReadTimeout must not be negative (0 means the 30s default)")
	case c.BodyReadTimeout == 0:
		c.BodyReadTimeout = DefaultBodyReadTimeout
	}
	switch {
	case c.SessionTimeout < 0:
		return nil, errors.New("mcpserver: Config.SessionTimeout must not be negative (0 means the one-hour default)")
	case c.SessionTimeout == 0:
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.MaxSessionsPerUser == 0 {
		c.MaxSessionsPerUser = DefaultMaxSessionsPerUser
	}
	if c.MaxListenStreamsPerUser == 0 {
		c.MaxListenStreamsPerUser = DefaultMaxListenStreamsPerUser
	}
	if c.EventStore != nil && c.Stateless {
		return nil, errors.New("mcpserver: Config.EventStore needs sessions: a Stateless server has no stream to resume (unset one of them)")
	}

	rl := &c.RateLimit
	if err := rl.User.withDefaults(DefaultUserRate); err != nil {
		return nil, fmt.Errorf("mcpserver: Config.RateLimit.User: %w", err)
	}
	if err := rl.IP.withDefaults(DefaultIPRate); err != nil {
		return nil, fmt.Errorf("mcpserver: Config.RateLimit.IP: %w", err)
	}
	if rl.Store != nil && nilcheck.IsNil(rl.Store) {
		return nil, fmt.Errorf("mcpserver: Config.RateLimit.Store is a nil %T (was the error of the constructor that made it ignored?)", rl.Store)
	}
	if rl.Store == nil && !rl.Disabled {
		rl.Store = NewMemoryStore(MemoryStoreConfig{})
	}
	for i, p := range rl.TrustedProxies {
		switch {
		case !p.IsValid():
			return nil, fmt.Errorf("mcpserver: Config.RateLimit.TrustedProxies[%d] is not a valid prefix", i)
		case p.Addr().Is4In6():
			// Peer addresses are compared unmapped: such a prefix would
			// never match, and X-Forwarded-For would be ignored.
			return nil, fmt.Errorf("mcpserver: Config.RateLimit.TrustedProxies[%d] %s is IPv4-mapped IPv6: write it as IPv4 (e.g. 10.0.0.0/8)", i, p)
		case p.Addr().Zone() != "":
			return nil, fmt.Errorf("mcpserver: Config.RateLimit.TrustedProxies[%d] %s has a zone, which never matches: leave it out", i, p)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// parseHTTPURL checks that s is an absolute http(s) URL without query,
// fragment or user info, https unless the host is a loopback address.
func parseHTTPURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a URL: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", s)
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return nil, fmt.Errorf("%q must use https (http is accepted only for loopback hosts)", s)
	case u.User != nil, u.RawQuery != "", u.ForceQuery, u.Fragment != "":
		return nil, fmt.Errorf("%q must not carry user info, a query or a fragment", s)
	}
	return u, nil
}

// checkOrigin checks that o is a serialized origin: scheme://host[:port].
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || !strings.EqualFold(u.Scheme+"://"+u.Host, o) {
		return fmt.Errorf("%q is not an origin of the form https://host[:port] (exact match, no wildcard, no path)", o)
	}
	return nil
}

// canonicalOrigin returns origin o as browsers send it (RFC 6454 §6.1):
// scheme and host in lower case, without the scheme's default port. A
// configured "https://App.example.com:443" would otherwise match no
// browser's Origin header.
func canonicalOrigin(o string) string {
	u, err := url.Parse(o)
	if err != nil {
		return o
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	port := u.Port()
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// stripDefaultPort returns host, a Host header's value in lower case,
// without a trailing ":443" (https) or ":80" (http): the same host (RFC
// 9110 §4.2.3).
func stripDefaultPort(host, scheme string) string {
	port := ":443"
	if scheme == "http" {
		port = ":80"
	}
	return strings.TrimSuffix(host, port)
}

// isPublicHost reports whether host, a request's Host, names PublicURL's
// host: compared without case, the scheme's default port written or not.
func (c *config) isPublicHost(host string) bool {
	return strings.EqualFold(host, c.publicURL.Host) ||
		stripDefaultPort(strings.ToLower(host), c.publicURL.Scheme) == c.publicHost
}

func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// isLoopbackLocal reports whether a connection's local address is a
// loopback one; for a TCP address without formatting it (which would cost
// an allocation on every request).
func isLoopbackLocal(a net.Addr) bool {
	if t, ok := a.(*net.TCPAddr); ok && t != nil {
		return t.IP.IsLoopback()
	}
	return a != nil && isLoopbackAddr(a.String())
}

// isLoopbackAddr is isLoopbackHost for "host:port" or a bare host.
func isLoopbackAddr(addr string) bool {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return isLoopbackHost(host)
	}
	return isLoopbackHost(addr)
}

// direct reports whether the direct transport serves the MCP endpoint
// (Config.GoSDKTransport).
func (c *config) direct() bool {
	return !c.GoSDKTransport && !c.Stateless && !c.JSONResponse && c.EventStore == nil &&
		(c.ServerOptions == nil || c.ServerOptions.GetSessionID == nil)
}

// statelessDirect reports whether the stateless direct transport serves
// the MCP endpoint (Config.GoSDKTransport): not when go-sdk's
// compatibility setting MCPGODEBUG=allowsessionsinstateless=1 gives its
// stateless sessions ids.
func (c *config) statelessDirect() bool {
	return !c.GoSDKTransport && c.Stateless && c.EventStore == nil &&
		!mcpGoDebug(os.Getenv("MCPGODEBUG"), "allowsessionsinstateless", "1")
}

// mcpGoDebug reports whether the MCPGODEBUG value env sets key to value,
// as go-sdk reads it ("k=v,k2=v2").
func mcpGoDebug(env, key, value string) bool {
	for part := range strings.SplitSeq(env, ",") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.TrimSpace(k) == key && strings.TrimSpace(v) == value {
			return true
		}
	}
	return false
}
