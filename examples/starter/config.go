package main

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/idgate/idgate/mcpserver/redislimit"
	"github.com/idgate/idgate/scopes"
)

// Defaults of the configuration.
const (
	defaultPort        = 3000
	defaultCRMDBPath   = "./data/crm.sqlite"
	defaultServiceName = "idgate-starter"
	// minSaltBytes is the shortest PII_SALT and USER_HASH_SALT accepted.
	minSaltBytes = 16
	// maxRatePerMin bounds RATE_LIMIT_PER_MIN and RATE_LIMIT_PER_IP_PER_MIN.
	maxRatePerMin = 1_000_000
	// devPIISalt is PII_SALT in -dev mode when none is set. It is public:
	// data written with it is not protected.
	devPIISalt = "idgate-starter-dev-mode-pii-salt-NOT-SECRET"
	// auditKeyLabel separates the audit subject-hash key derived from
	// PII_SALT from any other use of that salt.
	auditKeyLabel = "idgate-starter/audit-subject-key/v1"
	// limitKeyLabel separates the key of the rate-limit hashes in Redis,
	// derived from the audit key, from the audit key itself.
	limitKeyLabel = "idgate-starter/rate-limit-key/v1"
)

// config is the starter's validated configuration. loadConfig fills it from
// the environment; tests build it directly.
type config struct {
	// Dev runs the embedded development authorization server (-dev).
	Dev bool

	// Issuer is the authorization server whose tokens are accepted
	// (OAUTH_ISSUER). Required outside -dev.
	Issuer string
	// Audiences are the accepted token audiences (OAUTH_AUDIENCE,
	// comma-separated). Default: PublicURL.
	Audiences []string
	// ExtraScopes are advertised in scopes_supported and 401 challenges
	// besides the tools' scopes (OAUTH_SCOPES), as
	// mcpserver.Config.AdditionalScopes. Never offline_access. Default none.
	ExtraScopes []string
	// JWKSURI is the issuer's JWK Set (JWKS_URI). Default: discovered.
	JWKSURI string
	// OIDCDiscovery is the discovery document to read the JWKS URL from
	// instead of the issuer's own (OIDC_DISCOVERY). Default none.
	OIDCDiscovery string
	// Introspection configures RFC 7662 introspection for opaque tokens
	// (INTROSPECTION_URL, INTROSPECTION_CLIENT_ID,
	// INTROSPECTION_CLIENT_SECRET). Default: JWT access tokens.
	IntrospectionURL, IntrospectionClientID, IntrospectionClientSecret string

	// Host is the interface to listen on (HOST). Default: all interfaces,
	// 127.0.0.1 in -dev.
	Host string
	// Port is the port to listen on (PORT); 0 picks a free one. Default
	// 3000.
	Port int
	// PublicURL is the canonical URL of the MCP endpoint (PUBLIC_URL).
	// Required outside -dev; in -dev, http://localhost:<port>/mcp.
	PublicURL string
	// AppOrigins are the browser origins allowed to call the server
	// (APP_ORIGIN, comma-separated). Default none: browsers are refused,
	// other clients are not affected.
	AppOrigins []string

	// PIISalt keys the user keys of the demo data (PII_SALT). Required
	// outside -dev, at least 16 bytes.
	PIISalt []byte
	// DevPIISalt reports that PIISalt is the public -dev default.
	DevPIISalt bool
	// AuditKey keys the subject hashes of audit events (USER_HASH_SALT).
	// Default: derived from PIISalt.
	AuditKey []byte
	// CRMDBPath is the SQLite database file (CRM_DB_PATH). Default
	// ./data/crm.sqlite.
	CRMDBPath string
	// DatabaseURL is the database of the in-process backend (DATABASE_URL):
	// postgres://… (shared by every replica) or sqlite:PATH. Default none:
	// SQLite at CRMDBPath. Secret: never logged.
	DatabaseURL string
	// RedisURL is the Redis server that counts rate limits (REDIS_URL):
	// redis://…, rediss://… or unix://…, shared by every replica. Default
	// none: in memory, per process. Secret: never logged.
	RedisURL string
	// RedisPrefix starts every rate-limit key written to Redis
	// (REDIS_PREFIX). Default redislimit.DefaultPrefix
	// ("idgate:ratelimit:").
	RedisPrefix string

	// DemoAPIURL is the base URL of the demo backend (DEMO_API_URL).
	// Default: the in-process backend, on a loopback listener of its own.
	DemoAPIURL string
	// SigningKeyFile is the PEM private key the gateway signs backend
	// tokens with (GATEWAY_SIGNING_KEY_FILE). Default: a key generated at
	// start-up.
	SigningKeyFile string

	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed for the per-address rate limit (TRUSTED_PROXIES, CIDRs).
	// Default none: the peer address counts.
	TrustedProxies []netip.Prefix
	// RatePerMin is each user's request budget per minute
	// (RATE_LIMIT_PER_MIN). Default (0): mcpserver.DefaultUserRate.
	RatePerMin int
	// IPRatePerMin is each client address's request budget per minute,
	// counted before authentication (RATE_LIMIT_PER_IP_PER_MIN). Default
	// (0): mcpserver.DefaultIPRate.
	IPRatePerMin int
	// RateLimitFailOpen lets requests through unlimited while the
	// rate-limit store (Redis) fails (RATE_LIMIT_FAIL_OPEN). Default false:
	// they get 503 (fail closed).
	RateLimitFailOpen bool
	// Stateless serves MCP without sessions (STATELESS), so that any
	// replica can answer any request. Default false.
	Stateless bool

	// ServiceName names the service in "/" and in MCP (SERVICE_NAME).
	// Default "idgate-starter".
	ServiceName string
	// Debug logs at debug level (DEBUG). Default false.
	Debug bool
	// Revision and GitSHA identify the build (K_REVISION, GIT_SHA).
	Revision, GitSHA string
}

// configError is a configuration problem: it names the variable and says
// what to set.
type configError struct {
	Var, Msg string
}

func (e *configError) Error() string { return e.Var + " " + e.Msg }

// errf returns a *configError for variable v.
func errf(v, format string, args ...any) error {
	return &configError{Var: v, Msg: fmt.Sprintf(format, args...)}
}

// loadConfig reads the configuration from env, the process environment
// merged with .env. It returns the warnings to show at start-up (nothing
// secret) and fails on the first missing or contradictory setting with a
// message that names the variable and an example value.
func loadConfig(env map[string]string, dev bool) (*config, []string, error) {
	get := func(k string) string { return strings.TrimSpace(env[k]) }
	var warn []string
	c := &config{
		Dev:              dev,
		ServiceName:      cmp.Or(get("SERVICE_NAME"), defaultServiceName),
		CRMDBPath:        cmp.Or(get("CRM_DB_PATH"), defaultCRMDBPath),
		DatabaseURL:      get("DATABASE_URL"),
		RedisURL:         get("REDIS_URL"),
		RedisPrefix:      cmp.Or(get("REDIS_PREFIX"), redislimit.DefaultPrefix),
		Revision:         get("K_REVISION"),
		GitSHA:           get("GIT_SHA"),
		SigningKeyFile:   get("GATEWAY_SIGNING_KEY_FILE"),
		Host:             get("HOST"),
		IntrospectionURL: get("INTROSPECTION_URL"),
	}
	c.IntrospectionClientID = get("INTROSPECTION_CLIENT_ID")
	c.IntrospectionClientSecret = env["INTROSPECTION_CLIENT_SECRET"]

	var err error
	if c.Debug, err = parseBool(get("DEBUG"), "DEBUG"); err != nil {
		return nil, nil, err
	}
	if c.Stateless, err = parseBool(get("STATELESS"), "STATELESS"); err != nil {
		return nil, nil, err
	}
	if c.RateLimitFailOpen, err = parseBool(get("RATE_LIMIT_FAIL_OPEN"), "RATE_LIMIT_FAIL_OPEN"); err != nil {
		return nil, nil, err
	}

	// Listening.
	c.Port = defaultPort
	if p := get("PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 65535 {
			return nil, nil, errf("PORT", "must be a port number from 0 to 65535 (e.g. PORT=3000; 0 picks a free port)")
		}
		c.Port = n
	}
	if c.Host != "" && strings.ContainsAny(c.Host, " /:[]") && net.ParseIP(strings.Trim(c.Host, "[]")) == nil {
		return nil, nil, errf("HOST", "must be an IP address or host name to listen on (e.g. HOST=0.0.0.0, or HOST=127.0.0.1 for this machine only)")
	}
	if dev {
		if c.Host == "" {
			c.Host = "127.0.0.1"
		}
		if !isLoopbackHost(c.Host) {
			return nil, nil, errf("HOST", "is %q, but -dev only listens on a loopback address: its sign-in page lets anyone sign in as any demo user (e.g. HOST=127.0.0.1, or run without -dev)", c.Host)
		}
	}

	// The public URL.
	c.PublicURL = get("PUBLIC_URL")
	switch {
	case c.PublicURL == "" && !dev:
		return nil, nil, errf("PUBLIC_URL", "is required (e.g. https://mcp.example.com/mcp): the URL clients use to reach the MCP endpoint, also the audience tokens must name")
	case c.PublicURL != "":
		if err := checkPublicURL(c.PublicURL); err != nil {
			return nil, nil, err
		}
		// The development sign-in serves this machine only: a public URL
		// elsewhere (a .env set up for a provider) would be the resource
		// and the audience of every token, which no local client reaches.
		if u, err := url.Parse(c.PublicURL); dev && err == nil && !isLoopbackHost(u.Hostname()) {
			warn = append(warn, "PUBLIC_URL is ignored in -dev mode: it names "+u.Hostname()+", and -dev serves this machine only (http://localhost:PORT/mcp)")
			c.PublicURL = ""
		}
	}

	// The identity provider. In -dev the embedded one replaces it.
	issuer, jwks, disco := get("OAUTH_ISSUER"), get("JWKS_URI"), get("OIDC_DISCOVERY")
	audiences := splitList(env["OAUTH_AUDIENCE"])
	if dev {
		for _, k := range []string{"OAUTH_ISSUER", "OAUTH_AUDIENCE", "JWKS_URI", "OIDC_DISCOVERY", "INTROSPECTION_URL"} {
			if get(k) != "" {
				warn = append(warn, k+" is ignored in -dev mode: tokens come from the embedded development issuer")
			}
		}
		c.IntrospectionURL, c.IntrospectionClientID, c.IntrospectionClientSecret = "", "", ""
	} else {
		if issuer == "" {
			return nil, nil, errf("OAUTH_ISSUER", "is required (e.g. https://your-tenant.us.auth0.com/)")
		}
		if err := checkHTTPURL(issuer); err != nil {
			return nil, nil, errf("OAUTH_ISSUER", "%v (e.g. https://your-tenant.us.auth0.com/)", err)
		}
		if strings.Contains(issuer, exampleTenant) {
			return nil, nil, errf("OAUTH_ISSUER", "is the example's placeholder (%s): set your identity provider's issuer URL (e.g. https://dev-abc123.us.auth0.com/)", exampleTenant)
		}
		c.Issuer = issuer
		for _, a := range audiences {
			if a == "" || a == "/" || strings.ContainsAny(a, " \t\"") {
				return nil, nil, errf("OAUTH_AUDIENCE", "has an empty or malformed entry: list audiences separated by commas (e.g. OAUTH_AUDIENCE=%s)", cmp.Or(c.PublicURL, "https://mcp.example.com/mcp"))
			}
		}
		c.Audiences = audiences
		if jwks != "" {
			if err := checkHTTPURL(jwks); err != nil {
				return nil, nil, errf("JWKS_URI", "%v (e.g. https://your-tenant.us.auth0.com/.well-known/jwks.json)", err)
			}
			c.JWKSURI = jwks
		}
		if disco != "" {
			if jwks != "" {
				return nil, nil, errf("OIDC_DISCOVERY", "and JWKS_URI are both set: the discovery document is only read to find the JWKS, so set one (e.g. unset OIDC_DISCOVERY)")
			}
			base, _ := url.Parse(issuer)
			ref, err := url.Parse(disco)
			if err != nil {
				return nil, nil, errf("OIDC_DISCOVERY", "is not a URL (e.g. https://your-tenant.us.auth0.com/.well-known/openid-configuration)")
			}
			abs := base.ResolveReference(ref).String() // a relative value is relative to the issuer
			if err := checkHTTPURL(abs); err != nil {
				return nil, nil, errf("OIDC_DISCOVERY", "%v (e.g. https://your-tenant.us.auth0.com/.well-known/openid-configuration)", err)
			}
			c.OIDCDiscovery = abs
		}
		if err := c.checkIntrospection(); err != nil {
			return nil, nil, err
		}
	}

	// The TypeScript starter's backend variables: read by nothing here,
	// and a deployment that sets one expects the tools to call it.
	for _, k := range []string{"FUNCTIONS_BASE", "TOOLS_BASE_URL"} {
		if env[k] != "" {
			warn = append(warn, k+" is not read by this starter (the TypeScript starter's backend): the tools call DEMO_API_URL, or the built-in demo backend")
		}
	}

	// Scopes advertised besides the tools' own.
	for _, sc := range splitList(strings.ReplaceAll(env["OAUTH_SCOPES"], " ", ",")) {
		switch {
		case sc == "":
		case sc == "offline_access":
			warn = append(warn, "OAUTH_SCOPES: offline_access is never advertised in scopes_supported; dropped")
		case !scopes.ValidScope(sc):
			return nil, nil, errf("OAUTH_SCOPES", "has an invalid scope %q: list scope names separated by spaces (e.g. OAUTH_SCOPES=\"openid email profile\")", sc)
		case !slices.Contains(c.ExtraScopes, sc):
			c.ExtraScopes = append(c.ExtraScopes, sc)
		}
	}

	// Browser origins.
	for _, o := range splitList(env["APP_ORIGIN"]) {
		switch {
		case o == "*":
			return nil, nil, errf("APP_ORIGIN", "is \"*\", which would let any web page use a signed-in browser's token against this server: list the origins of your web clients (e.g. APP_ORIGIN=https://chatgpt.com,https://claude.ai), or unset it when no browser calls the server directly")
		case o == "":
			return nil, nil, errf("APP_ORIGIN", "has an empty entry (e.g. APP_ORIGIN=https://app.example.com)")
		}
		if err := checkOrigin(o); err != nil {
			return nil, nil, errf("APP_ORIGIN", "%q is not an origin: write scheme://host[:port] with no path (e.g. APP_ORIGIN=https://app.example.com)", o)
		}
		c.AppOrigins = append(c.AppOrigins, o)
	}

	// Salts.
	switch salt := env["PII_SALT"]; {
	case salt == "" && dev:
		c.PIISalt, c.DevPIISalt = []byte(devPIISalt), true
		warn = append(warn, "PII_SALT is not set: using the public development salt; demo data written now is not protected")
	case salt == "":
		return nil, nil, errf("PII_SALT", "is required: a secret of at least %d bytes that keys the demo data to each user (e.g. the output of `openssl rand -hex 32`)", minSaltBytes)
	case len(salt) < minSaltBytes:
		return nil, nil, errf("PII_SALT", "must be at least %d bytes (e.g. the output of `openssl rand -hex 32`)", minSaltBytes)
	case placeholder(salt):
		return nil, nil, errf("PII_SALT", "is a placeholder (%s), not a secret: set a secret of your own (e.g. the output of `openssl rand -hex 32`)", placeholderWhy(salt))
	default:
		c.PIISalt = []byte(salt)
	}
	switch salt := env["USER_HASH_SALT"]; {
	case salt == "":
		c.AuditKey = deriveAuditKey(c.PIISalt)
	case len(salt) < minSaltBytes:
		return nil, nil, errf("USER_HASH_SALT", "must be at least %d bytes (e.g. the output of `openssl rand -hex 32`), or unset to derive it from PII_SALT", minSaltBytes)
	case placeholder(salt):
		return nil, nil, errf("USER_HASH_SALT", "is a placeholder (%s), not a secret: set a secret of your own (e.g. the output of `openssl rand -hex 32`), or unset it to derive it from PII_SALT", placeholderWhy(salt))
	default:
		c.AuditKey = []byte(salt)
	}

	// Storage and backend.
	if strings.HasPrefix(c.CRMDBPath, "file:") || strings.Contains(c.CRMDBPath, "?") {
		return nil, nil, errf("CRM_DB_PATH", "must be a file path, not a URI (e.g. CRM_DB_PATH=./data/crm.sqlite)")
	}
	if u := get("DEMO_API_URL"); u != "" {
		if err := checkBackendURL(u); err != nil {
			return nil, nil, errf("DEMO_API_URL", "%v (e.g. DEMO_API_URL=http://demo-api:3000/demo/, or unset it to use the in-process backend)", err)
		}
		c.DemoAPIURL = strings.TrimSuffix(u, "/") + "/"
	}
	if c.SigningKeyFile != "" {
		if _, err := os.Stat(c.SigningKeyFile); err != nil {
			return nil, nil, errf("GATEWAY_SIGNING_KEY_FILE", "cannot be read: %v (e.g. GATEWAY_SIGNING_KEY_FILE=/secrets/gateway-key.pem, made with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`)", errors.Unwrap(err))
		}
	}
	if err := checkURLScheme(c.DatabaseURL, "postgres", "postgresql", "sqlite"); err != nil {
		return nil, nil, errf("DATABASE_URL", "%v: want postgres://user:password@host:5432/db (e.g. DATABASE_URL=postgres://starter:secret@db:5432/starter?sslmode=require), or unset it to keep the data in SQLite at CRM_DB_PATH", err)
	}
	if err := checkURLScheme(c.RedisURL, "redis", "rediss", "unix"); err != nil {
		return nil, nil, errf("REDIS_URL", "%v: want redis://[user:password@]host:6379/db, rediss://… or unix:///path (e.g. REDIS_URL=redis://cache:6379/0), or unset it to count rate limits in memory", err)
	}

	// Limits.
	for _, p := range splitList(env["TRUSTED_PROXIES"]) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return nil, nil, errf("TRUSTED_PROXIES", "has %q, which is not a network: list CIDRs separated by commas (e.g. TRUSTED_PROXIES=10.0.0.0/8,169.254.0.0/16)", p)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		if prefix.Addr().Is4In6() || prefix.Addr().Zone() != "" {
			return nil, nil, errf("TRUSTED_PROXIES", "has %q, an IPv4-mapped or zoned IPv6 network that never matches a peer: write IPv4 networks as IPv4 (e.g. TRUSTED_PROXIES=10.0.0.0/8)", p)
		}
		c.TrustedProxies = append(c.TrustedProxies, prefix.Masked())
	}
	if r := get("RATE_LIMIT_PER_MIN"); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 || n > maxRatePerMin {
			return nil, nil, errf("RATE_LIMIT_PER_MIN", "must be a whole number of requests per user per minute from 1 to %d (e.g. RATE_LIMIT_PER_MIN=600)", maxRatePerMin)
		}
		c.RatePerMin = n
	}
	if r := get("RATE_LIMIT_PER_IP_PER_MIN"); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 || n > maxRatePerMin {
			return nil, nil, errf("RATE_LIMIT_PER_IP_PER_MIN", "must be a whole number of requests per client address per minute from 1 to %d (e.g. RATE_LIMIT_PER_IP_PER_MIN=1200)", maxRatePerMin)
		}
		c.IPRatePerMin = n
	}
	return c, append(warn, c.replicaWarnings(get)...), nil
}

// replicaWarnings returns the warnings about settings that work in one
// process but not across replicas, or that have no effect.
func (c *config) replicaWarnings(get func(string) string) []string {
	var warn []string
	if c.DatabaseURL != "" && c.DemoAPIURL != "" {
		warn = append(warn, "DATABASE_URL is not used: with DEMO_API_URL the separate backend keeps the data (set DATABASE_URL where `starter demo-api` runs)")
	}
	if c.DatabaseURL != "" && c.RedisURL == "" {
		warn = append(warn, "DATABASE_URL is set but REDIS_URL is not: rate limits are counted in each process, so with N replicas a user gets N times RATE_LIMIT_PER_MIN (set REDIS_URL to share them)")
	}
	if (c.DatabaseURL != "" || c.RedisURL != "") && !c.Stateless {
		warn = append(warn, "STATELESS is false: MCP sessions live in the process that opened them, so behind a load balancer every request of a session must reach the same replica (set STATELESS=true, or use sticky sessions)")
	}
	if c.DemoAPIURL != "" && c.SigningKeyFile == "" && (c.Stateless || c.RedisURL != "" || c.DatabaseURL != "") {
		warn = append(warn, "GATEWAY_SIGNING_KEY_FILE is not set: each replica signs the backend's tokens with a key of its own, and a backend at DEMO_API_URL shared by several replicas refuses the tokens of all but one (give every replica the same key file)")
	}
	if c.RedisURL == "" && get("RATE_LIMIT_FAIL_OPEN") != "" {
		warn = append(warn, "RATE_LIMIT_FAIL_OPEN has no effect without REDIS_URL: rate limits are counted in memory, which cannot fail")
	}
	if c.RedisURL == "" && get("REDIS_PREFIX") != "" {
		warn = append(warn, "REDIS_PREFIX has no effect without REDIS_URL")
	}
	return warn
}

// checkURLScheme checks that s, when set, is a URL whose scheme is one of
// schemes. Its message never quotes s, which may hold a password.
func checkURLScheme(s string, schemes ...string) error {
	if s == "" {
		return nil
	}
	scheme, _, ok := strings.Cut(s, ":")
	if !ok || !slices.Contains(schemes, strings.ToLower(scheme)) {
		return errors.New("is not a URL of a supported kind (not shown: it may hold a password)")
	}
	if _, err := url.Parse(s); err != nil {
		return errors.New("is not a valid URL (not shown: it may hold a password)")
	}
	return nil
}

// checkIntrospection checks the INTROSPECTION_* variables together.
func (c *config) checkIntrospection() error {
	switch {
	case c.IntrospectionURL == "" && (c.IntrospectionClientID != "" || c.IntrospectionClientSecret != ""):
		return errf("INTROSPECTION_URL", "is required with INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET (e.g. INTROSPECTION_URL=https://idp.example.com/oauth2/v1/introspect)")
	case c.IntrospectionURL == "":
		return nil
	case c.JWKSURI != "" || c.OIDCDiscovery != "":
		return errf("INTROSPECTION_URL", "and JWKS_URI/OIDC_DISCOVERY are both set: tokens are either introspected (opaque tokens) or checked against a JWKS (JWTs), so set one (e.g. unset JWKS_URI)")
	case c.IntrospectionClientID == "":
		return errf("INTROSPECTION_CLIENT_ID", "is required with INTROSPECTION_URL: the client this server authenticates as (e.g. INTROSPECTION_CLIENT_ID=mcp-resource-server)")
	case c.IntrospectionClientSecret == "":
		return errf("INTROSPECTION_CLIENT_SECRET", "is required with INTROSPECTION_URL (e.g. INTROSPECTION_CLIENT_SECRET=<the client's secret>)")
	}
	if err := checkHTTPURL(c.IntrospectionURL); err != nil {
		return errf("INTROSPECTION_URL", "%v (e.g. INTROSPECTION_URL=https://idp.example.com/oauth2/v1/introspect)", err)
	}
	return nil
}

// deriveAuditKey derives the audit subject-hash key from the PII salt:
// HMAC-SHA256(PII_SALT, label). The label keeps the two uses apart, so an
// audit hash is never a user key.
func deriveAuditKey(piiSalt []byte) []byte { return deriveKey(piiSalt, auditKeyLabel) }

// deriveLimitKey derives the key of the rate-limit hashes in Redis
// (redislimit.Options.HashKey) from the audit key, so that it follows
// USER_HASH_SALT when that is set: HMAC-SHA256(audit key, label). Every
// replica with the same salts derives the same key, and so shares counts.
func deriveLimitKey(auditKey []byte) []byte { return deriveKey(auditKey, limitKeyLabel) }

// deriveKey returns HMAC-SHA256(secret, label).
func deriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// checkPublicURL checks PUBLIC_URL: an absolute URL, https unless loopback,
// with a path for the MCP endpoint that the starter's own routes leave free.
func checkPublicURL(s string) error {
	if err := checkHTTPURL(s); err != nil {
		return errf("PUBLIC_URL", "%v (e.g. https://mcp.example.com/mcp)", err)
	}
	u, _ := url.Parse(s)
	p := u.EscapedPath()
	switch {
	case p == "" || p == "/":
		return errf("PUBLIC_URL", "must end in the MCP endpoint's path (e.g. %s://%s/mcp)", u.Scheme, u.Host)
	case strings.HasSuffix(p, "/"):
		return errf("PUBLIC_URL", "must not end in a slash (e.g. %s://%s/mcp)", u.Scheme, u.Host)
	}
	for _, taken := range []string{"/tools", "/demo", "/.well-known", "/healthz", "/debug-token", "/favicon"} {
		if p == taken || strings.HasPrefix(p, taken+"/") || strings.HasPrefix(p, "/favicon") {
			return errf("PUBLIC_URL", "path %s is taken by the starter's own routes (e.g. %s://%s/mcp)", p, u.Scheme, u.Host)
		}
	}
	return nil
}

// checkHTTPURL checks that s is an absolute http(s) URL without user info,
// query or fragment, using https unless its host is a loopback address.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil, u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return errors.New("must be an absolute https URL")
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
		return errors.New("must use https (http only for localhost)")
	case u.User != nil, u.RawQuery != "", u.ForceQuery, u.Fragment != "":
		return errors.New("must not carry user info, a query or a fragment")
	}
	return nil
}

// checkBackendURL checks DEMO_API_URL: an absolute http(s) URL without user
// info, query or fragment. Plain http is allowed, for a backend on a private
// network: what crosses it is a token for that backend alone, valid for a
// minute.
func checkBackendURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil, u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return errors.New("must be an absolute http(s) URL")
	case u.User != nil, u.RawQuery != "", u.ForceQuery, u.Fragment != "":
		return errors.New("must not carry user info, a query or a fragment")
	}
	return nil
}

// checkOrigin checks that o is a serialized origin: scheme://host[:port].
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.Scheme+"://"+u.Host != o {
		return errors.New("not an origin")
	}
	return nil
}

// isLoopbackHost reports whether host names this machine only: localhost or
// a loopback IP address.
func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// parseBool reads a boolean variable: 1/true/yes/on or 0/false/no/off,
// any case; empty is false.
func parseBool(s, name string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	}
	return false, errf(name, "must be true or false (e.g. %s=true)", name)
}

// splitList splits a comma-separated list, trimming each entry. An empty
// string gives nil; empty entries are kept (as "") for the caller to refuse.
func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// exampleTenant is the placeholder tenant of .env.example's URLs.
const exampleTenant = "your-tenant"

// placeholder reports whether a secret's value is one a copied
// .env.example or an unexpanded variable left (the .env reader expands
// nothing): long enough to pass the length check, and public.
func placeholder(v string) bool { return placeholderWhy(v) != "" }

// placeholderWhy says what makes v a placeholder, "" if nothing does.
func placeholderWhy(v string) string {
	switch {
	case strings.Contains(v, "replace-with"):
		return "the value .env.example gives"
	case strings.Contains(v, "${"):
		return "an unexpanded ${...}: the .env file is read as it is"
	}
	return ""
}
