package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// validEnv is a complete production configuration.
func validEnv() map[string]string {
	return map[string]string{
		"OAUTH_ISSUER": "https://tenant.us.auth0.com/",
		"PUBLIC_URL":   "https://mcp.example.com/mcp",
		"PII_SALT":     testSalt,
	}
}

// TestConfigErrors checks that every missing or contradictory setting stops
// start-up with a message naming the variable and an example value.
func TestConfigErrors(t *testing.T) {
	badKey := filepath.Join(t.TempDir(), "absent.pem")
	tests := []struct {
		name string
		dev  bool
		set  map[string]string // over validEnv; "" deletes
		want string            // the whole message, or its start when it ends in "…"
	}{
		{name: "no issuer", set: map[string]string{"OAUTH_ISSUER": ""}, want: "OAUTH_ISSUER is required (e.g. https://your-tenant.us.auth0.com/)"},
		{name: "issuer over http", set: map[string]string{"OAUTH_ISSUER": "http://tenant.example.com/"}, want: "OAUTH_ISSUER must use https (http only for localhost) (e.g. https://your-tenant.us.auth0.com/)"},
		{name: "issuer not a URL", set: map[string]string{"OAUTH_ISSUER": "tenant.auth0.com"}, want: "OAUTH_ISSUER must be an absolute https URL (e.g. https://your-tenant.us.auth0.com/)"},
		{name: "no public URL", set: map[string]string{"PUBLIC_URL": ""}, want: "PUBLIC_URL is required (e.g. https://mcp.example.com/mcp)…"},
		{name: "public URL without path", set: map[string]string{"PUBLIC_URL": "https://mcp.example.com"}, want: "PUBLIC_URL must end in the MCP endpoint's path (e.g. https://mcp.example.com/mcp)"},
		{name: "public URL with slash", set: map[string]string{"PUBLIC_URL": "https://mcp.example.com/mcp/"}, want: "PUBLIC_URL must not end in a slash (e.g. https://mcp.example.com/mcp)"},
		{name: "public URL on a taken path", set: map[string]string{"PUBLIC_URL": "https://mcp.example.com/tools"}, want: "PUBLIC_URL path /tools is taken by the starter's own routes (e.g. https://mcp.example.com/mcp)"},
		{name: "public URL over http", set: map[string]string{"PUBLIC_URL": "http://mcp.example.com/mcp"}, want: "PUBLIC_URL must use https (http only for localhost) (e.g. https://mcp.example.com/mcp)"},
		{name: "public URL with query", set: map[string]string{"PUBLIC_URL": "https://mcp.example.com/mcp?x=1"}, want: "PUBLIC_URL must not carry user info, a query or a fragment (e.g. https://mcp.example.com/mcp)"},
		{name: "no PII salt", set: map[string]string{"PII_SALT": ""}, want: "PII_SALT is required: a secret of at least 16 bytes that keys the demo data to each user (e.g. the output of `openssl rand -hex 32`)"},
		{name: "short PII salt", set: map[string]string{"PII_SALT": "short"}, want: "PII_SALT must be at least 16 bytes (e.g. the output of `openssl rand -hex 32`)"},
		{name: "short audit salt", set: map[string]string{"USER_HASH_SALT": "short"}, want: "USER_HASH_SALT must be at least 16 bytes (e.g. the output of `openssl rand -hex 32`), or unset to derive it from PII_SALT"},
		// A copied .env.example, or a variable the .env reader does not
		// expand: long enough, and public.
		{name: "PII salt of .env.example", set: map[string]string{"PII_SALT": "replace-with-the-output-of-openssl-rand-hex-32"}, want: "PII_SALT is a placeholder (the value .env.example gives), not a secret: set a secret of your own (e.g. the output of `openssl rand -hex 32`)"},
		{name: "PII salt unexpanded", set: map[string]string{"PII_SALT": "${STARTER_PII_SALT_SECRET}"}, want: "PII_SALT is a placeholder (an unexpanded ${...}: the .env file is read as it is), not a secret: set a secret of your own (e.g. the output of `openssl rand -hex 32`)"},
		{name: "audit salt of .env.example", set: map[string]string{"USER_HASH_SALT": "replace-with-another-openssl-rand-hex-32"}, want: "USER_HASH_SALT is a placeholder (the value .env.example gives), not a secret: set a secret of your own (e.g. the output of `openssl rand -hex 32`), or unset it to derive it from PII_SALT"},
		{name: "issuer of .env.example", set: map[string]string{"OAUTH_ISSUER": "https://your-tenant.us.auth0.com/"}, want: "OAUTH_ISSUER is the example's placeholder (your-tenant): set your identity provider's issuer URL (e.g. https://dev-abc123.us.auth0.com/)"},
		{name: "bad port", set: map[string]string{"PORT": "http"}, want: "PORT must be a port number from 0 to 65535 (e.g. PORT=3000; 0 picks a free port)"},
		{name: "port out of range", set: map[string]string{"PORT": "70000"}, want: "PORT must be a port number from 0 to 65535 (e.g. PORT=3000; 0 picks a free port)"},
		{name: "bad host", set: map[string]string{"HOST": "a b"}, want: "HOST must be an IP address or host name to listen on (e.g. HOST=0.0.0.0, or HOST=127.0.0.1 for this machine only)"},
		{name: "APP_ORIGIN wildcard", set: map[string]string{"APP_ORIGIN": "*"}, want: `APP_ORIGIN is "*", which would let any web page use a signed-in browser's token against this server…`},
		{name: "APP_ORIGIN with a path", set: map[string]string{"APP_ORIGIN": "https://app.example.com/x"}, want: `APP_ORIGIN "https://app.example.com/x" is not an origin: write scheme://host[:port] with no path (e.g. APP_ORIGIN=https://app.example.com)`},
		{name: "APP_ORIGIN empty entry", set: map[string]string{"APP_ORIGIN": "https://a.example.com,,"}, want: "APP_ORIGIN has an empty entry (e.g. APP_ORIGIN=https://app.example.com)"},
		{name: "audience empty entry", set: map[string]string{"OAUTH_AUDIENCE": "https://mcp.example.com/mcp,"}, want: "OAUTH_AUDIENCE has an empty or malformed entry: list audiences separated by commas (e.g. OAUTH_AUDIENCE=https://mcp.example.com/mcp)"},
		{name: "audience a slash", set: map[string]string{"OAUTH_AUDIENCE": "/"}, want: "OAUTH_AUDIENCE has an empty or malformed entry: list audiences separated by commas (e.g. OAUTH_AUDIENCE=https://mcp.example.com/mcp)"},
		{name: "IPv4-mapped proxy", set: map[string]string{"TRUSTED_PROXIES": "::ffff:10.0.0.0/104"}, want: `TRUSTED_PROXIES has "::ffff:10.0.0.0/104", an IPv4-mapped or zoned IPv6 network that never matches a peer: write IPv4 networks as IPv4 (e.g. TRUSTED_PROXIES=10.0.0.0/8)`},
		{name: "bad scope", set: map[string]string{"OAUTH_SCOPES": `openid "email"`}, want: `OAUTH_SCOPES has an invalid scope "\"email\"": list scope names separated by spaces (e.g. OAUTH_SCOPES="openid email profile")`},
		{name: "JWKS over http", set: map[string]string{"JWKS_URI": "http://tenant.example.com/jwks"}, want: "JWKS_URI must use https (http only for localhost) (e.g. https://your-tenant.us.auth0.com/.well-known/jwks.json)"},
		{name: "JWKS and discovery", set: map[string]string{"JWKS_URI": "https://t.example.com/jwks", "OIDC_DISCOVERY": "https://t.example.com/d"}, want: "OIDC_DISCOVERY and JWKS_URI are both set…"},
		{name: "discovery over http", set: map[string]string{"OIDC_DISCOVERY": "http://t.example.com/d"}, want: "OIDC_DISCOVERY must use https (http only for localhost) (e.g. https://your-tenant.us.auth0.com/.well-known/openid-configuration)"},
		{name: "introspection without client", set: map[string]string{"INTROSPECTION_URL": "https://idp.example.com/introspect"}, want: "INTROSPECTION_CLIENT_ID is required with INTROSPECTION_URL…"},
		{name: "introspection without secret", set: map[string]string{"INTROSPECTION_URL": "https://idp.example.com/introspect", "INTROSPECTION_CLIENT_ID": "rs"}, want: "INTROSPECTION_CLIENT_SECRET is required with INTROSPECTION_URL (e.g. INTROSPECTION_CLIENT_SECRET=<the client's secret>)"},
		{name: "introspection client without URL", set: map[string]string{"INTROSPECTION_CLIENT_ID": "rs"}, want: "INTROSPECTION_URL is required with INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET…"},
		{name: "introspection and JWKS", set: map[string]string{"INTROSPECTION_URL": "https://idp.example.com/i", "INTROSPECTION_CLIENT_ID": "rs", "INTROSPECTION_CLIENT_SECRET": "s", "JWKS_URI": "https://t.example.com/jwks"}, want: "INTROSPECTION_URL and JWKS_URI/OIDC_DISCOVERY are both set…"},
		{name: "introspection over http", set: map[string]string{"INTROSPECTION_URL": "http://idp.example.com/i", "INTROSPECTION_CLIENT_ID": "rs", "INTROSPECTION_CLIENT_SECRET": "s"}, want: "INTROSPECTION_URL must use https (http only for localhost)…"},
		{name: "CRM_DB_PATH as a URI", set: map[string]string{"CRM_DB_PATH": "file:crm.sqlite?mode=memory"}, want: "CRM_DB_PATH must be a file path, not a URI (e.g. CRM_DB_PATH=./data/crm.sqlite)"},
		{name: "demo API not a URL", set: map[string]string{"DEMO_API_URL": "demo-api:4000"}, want: "DEMO_API_URL must be an absolute http(s) URL (e.g. DEMO_API_URL=http://demo-api:3000/demo/, or unset it to use the in-process backend)"},
		{name: "signing key missing", set: map[string]string{"GATEWAY_SIGNING_KEY_FILE": badKey}, want: "GATEWAY_SIGNING_KEY_FILE cannot be read: no such file or directory…"},
		{name: "rate limit zero", set: map[string]string{"RATE_LIMIT_PER_MIN": "0"}, want: "RATE_LIMIT_PER_MIN must be a whole number of requests per user per minute from 1 to 1000000 (e.g. RATE_LIMIT_PER_MIN=600)"},
		{name: "rate limit not a number", set: map[string]string{"RATE_LIMIT_PER_MIN": "lots"}, want: "RATE_LIMIT_PER_MIN must be a whole number of requests per user per minute from 1 to 1000000 (e.g. RATE_LIMIT_PER_MIN=600)"},
		{name: "address rate limit zero", set: map[string]string{"RATE_LIMIT_PER_IP_PER_MIN": "0"}, want: "RATE_LIMIT_PER_IP_PER_MIN must be a whole number of requests per client address per minute from 1 to 1000000 (e.g. RATE_LIMIT_PER_IP_PER_MIN=1200)"},
		{name: "address rate limit too high", set: map[string]string{"RATE_LIMIT_PER_IP_PER_MIN": "1000001"}, want: "RATE_LIMIT_PER_IP_PER_MIN must be a whole number of requests per client address per minute from 1 to 1000000 (e.g. RATE_LIMIT_PER_IP_PER_MIN=1200)"},
		{name: "trusted proxy not a network", set: map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, gateway"}, want: `TRUSTED_PROXIES has "gateway", which is not a network: list CIDRs separated by commas (e.g. TRUSTED_PROXIES=10.0.0.0/8,169.254.0.0/16)`},
		{name: "STATELESS not a boolean", set: map[string]string{"STATELESS": "maybe"}, want: "STATELESS must be true or false (e.g. STATELESS=true)"},
		{name: "DEBUG not a boolean", set: map[string]string{"DEBUG": "verbose"}, want: "DEBUG must be true or false (e.g. DEBUG=true)"},
		{name: "RATE_LIMIT_FAIL_OPEN not a boolean", set: map[string]string{"RATE_LIMIT_FAIL_OPEN": "sometimes"}, want: "RATE_LIMIT_FAIL_OPEN must be true or false (e.g. RATE_LIMIT_FAIL_OPEN=true)"},
		{name: "DATABASE_URL of another database", set: map[string]string{"DATABASE_URL": "mysql://starter:" + testSalt + "@db/starter"}, want: "DATABASE_URL is not a URL of a supported kind (not shown: it may hold a password): want postgres://user:password@host:5432/db…"},
		{name: "DATABASE_URL without a scheme", set: map[string]string{"DATABASE_URL": "host=db user=starter password=" + testSalt}, want: "DATABASE_URL is not a URL of a supported kind…"},
		{name: "DATABASE_URL not a URL", set: map[string]string{"DATABASE_URL": "postgres://starter:" + testSalt + "@db:port/starter"}, want: "DATABASE_URL is not a valid URL (not shown: it may hold a password)…"},
		{name: "REDIS_URL of another kind", set: map[string]string{"REDIS_URL": "http://:" + testSalt + "@cache:6379"}, want: "REDIS_URL is not a URL of a supported kind (not shown: it may hold a password): want redis://[user:password@]host:6379/db, rediss://… or unix:///path (e.g. REDIS_URL=redis://cache:6379/0), or unset it to count rate limits in memory"},
		{name: "REDIS_URL without a scheme", set: map[string]string{"REDIS_URL": "cache:6379"}, want: "REDIS_URL is not a URL of a supported kind…"},
		{name: "dev on all interfaces", dev: true, set: map[string]string{"HOST": "0.0.0.0"}, want: `HOST is "0.0.0.0", but -dev only listens on a loopback address…`},
		{name: "dev on a public address", dev: true, set: map[string]string{"HOST": "192.0.2.10"}, want: `HOST is "192.0.2.10", but -dev only listens on a loopback address…`},
		{name: "dev with a remote public URL over http", dev: true, set: map[string]string{"PUBLIC_URL": "http://mcp.example.com/mcp"}, want: "PUBLIC_URL must use https (http only for localhost)…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.set {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			_, _, err := loadConfig(env, tt.dev)
			require.Error(t, err)
			if prefix, ok := strings.CutSuffix(tt.want, "…"); ok {
				require.True(t, strings.HasPrefix(err.Error(), prefix), "got %q", err.Error())
			} else {
				require.Equal(t, tt.want, err.Error())
			}
			var ce *configError
			require.ErrorAs(t, err, &ce)
			require.Contains(t, err.Error(), "e.g. ", "every message shows an example")
			require.NotContains(t, err.Error(), testSalt, "no message echoes a secret")
		})
	}
}

// TestConfigValid checks the defaults and how valid settings are read.
func TestConfigValid(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(keyFile, []byte("x"), 0o600))
	tests := []struct {
		name  string
		dev   bool
		env   map[string]string
		check func(t *testing.T, c *config, warnings []string)
	}{
		{
			name: "-dev ignores a public URL elsewhere", dev: true, env: map[string]string{"PUBLIC_URL": "https://mcp.example.com/mcp"},
			check: func(t *testing.T, c *config, w []string) {
				require.Empty(t, c.PublicURL, "the local default")
				require.Contains(t, w, "PUBLIC_URL is ignored in -dev mode: it names mcp.example.com, and -dev serves this machine only (http://localhost:PORT/mcp)")
			},
		},
		{
			name: "-dev keeps a local public URL", dev: true, env: map[string]string{"PUBLIC_URL": "http://127.0.0.1:3000/mcp"},
			check: func(t *testing.T, c *config, w []string) {
				require.Equal(t, "http://127.0.0.1:3000/mcp", c.PublicURL)
			},
		},
		{
			name: "TypeScript starter's backend variables", env: merge(validEnv(), map[string]string{"FUNCTIONS_BASE": "https://fn.example.com", "TOOLS_BASE_URL": "https://tools.example.com"}),
			check: func(t *testing.T, _ *config, w []string) {
				require.Equal(t, []string{
					"FUNCTIONS_BASE is not read by this starter (the TypeScript starter's backend): the tools call DEMO_API_URL, or the built-in demo backend",
					"TOOLS_BASE_URL is not read by this starter (the TypeScript starter's backend): the tools call DEMO_API_URL, or the built-in demo backend",
				}, w)
			},
		},
		{
			name: "defaults", env: validEnv(),
			check: func(t *testing.T, c *config, w []string) {
				require.Equal(t, 3000, c.Port)
				require.Equal(t, "", c.Host, "all interfaces outside -dev")
				require.Equal(t, "./data/crm.sqlite", c.CRMDBPath)
				require.Equal(t, "idgate-starter", c.ServiceName)
				require.Nil(t, c.Audiences, "the verifier defaults them to PUBLIC_URL")
				require.Equal(t, deriveAuditKey([]byte(testSalt)), c.AuditKey)
				require.NotEqual(t, []byte(testSalt), c.AuditKey, "the audit key is not the PII salt")
				require.Empty(t, c.AppOrigins)
				require.Empty(t, c.ExtraScopes)
				require.Empty(t, w)
			},
		},
		{
			name: "lists and flags",
			env: merge(validEnv(), map[string]string{
				"OAUTH_AUDIENCE": "https://mcp.example.com/mcp, api://mcp", "OAUTH_SCOPES": "openid  email openid offline_access",
				"APP_ORIGIN": "https://a.example.com, http://localhost:5173", "STATELESS": "TRUE", "DEBUG": "1",
				"USER_HASH_SALT": "another-salt-of-16+", "RATE_LIMIT_PER_MIN": "120", "RATE_LIMIT_PER_IP_PER_MIN": "5000", "PORT": "0", "HOST": "::",
				"DEMO_API_URL": "http://demo-api:4000/demo", "GATEWAY_SIGNING_KEY_FILE": keyFile,
				"OIDC_DISCOVERY": "/.well-known/openid-configuration", "TRUSTED_PROXIES": "10.1.2.3/8, 192.0.2.7",
			}),
			check: func(t *testing.T, c *config, w []string) {
				require.Equal(t, []string{"https://mcp.example.com/mcp", "api://mcp"}, c.Audiences)
				require.Equal(t, []string{"openid", "email"}, c.ExtraScopes)
				require.Equal(t, []string{"https://a.example.com", "http://localhost:5173"}, c.AppOrigins)
				require.True(t, c.Stateless)
				require.True(t, c.Debug)
				require.Equal(t, []byte("another-salt-of-16+"), c.AuditKey)
				require.Equal(t, 120, c.RatePerMin)
				require.Equal(t, 5000, c.IPRatePerMin)
				require.Equal(t, 0, c.Port)
				require.Equal(t, "http://demo-api:4000/demo/", c.DemoAPIURL)
				require.Equal(t, "https://tenant.us.auth0.com/.well-known/openid-configuration", c.OIDCDiscovery, "relative to the issuer")
				require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")}, c.TrustedProxies)
				require.Len(t, w, 1)
				require.Contains(t, w[0], "offline_access")
			},
		},
		{
			name: "replicas",
			env: merge(validEnv(), map[string]string{
				"DATABASE_URL": "postgres://starter:secret@db:5432/starter?sslmode=require", "REDIS_URL": "rediss://:secret@cache:6380/2",
				"REDIS_PREFIX": "crm:limits:", "RATE_LIMIT_FAIL_OPEN": "true", "STATELESS": "true",
			}),
			check: func(t *testing.T, c *config, w []string) {
				require.Equal(t, "postgres://starter:secret@db:5432/starter?sslmode=require", c.DatabaseURL)
				require.Equal(t, "rediss://:secret@cache:6380/2", c.RedisURL)
				require.Equal(t, "crm:limits:", c.RedisPrefix)
				require.True(t, c.RateLimitFailOpen)
				require.True(t, c.Stateless)
				require.Empty(t, w, "nothing is per process")
			},
		},
		{
			name: "replica defaults", env: merge(validEnv(), map[string]string{"DATABASE_URL": "sqlite:/data/crm.sqlite", "REDIS_URL": "unix:///run/redis.sock", "STATELESS": "1"}),
			check: func(t *testing.T, c *config, w []string) {
				require.Equal(t, "idgate:ratelimit:", c.RedisPrefix)
				require.False(t, c.RateLimitFailOpen, "fail closed by default")
				require.Empty(t, w)
			},
		},
		{
			name: "settings that hold in one process only",
			env:  merge(validEnv(), map[string]string{"DATABASE_URL": "postgresql://db/starter", "DEMO_API_URL": "http://demo-api:4000/demo/"}),
			check: func(t *testing.T, c *config, w []string) {
				require.Len(t, w, 4, "%q", w)
				require.Contains(t, w[0], "DATABASE_URL is not used: with DEMO_API_URL the separate backend keeps the data")
				require.Contains(t, w[1], "REDIS_URL is not: rate limits are counted in each process")
				require.Contains(t, w[2], "STATELESS is false: MCP sessions live in the process that opened them")
				require.Contains(t, w[3], "GATEWAY_SIGNING_KEY_FILE is not set: each replica signs the backend's tokens with a key of its own")
				require.NotContains(t, strings.Join(w, "\n"), "postgresql://db", "warnings never show a URL")
			},
		},
		{
			name: "Redis settings without Redis", env: merge(validEnv(), map[string]string{"RATE_LIMIT_FAIL_OPEN": "false", "REDIS_PREFIX": "x:"}),
			check: func(t *testing.T, c *config, w []string) {
				require.Equal(t, []string{
					"RATE_LIMIT_FAIL_OPEN has no effect without REDIS_URL: rate limits are counted in memory, which cannot fail",
					"REDIS_PREFIX has no effect without REDIS_URL",
				}, w)
			},
		},
		{
			name: "introspection",
			env: merge(validEnv(), map[string]string{
				"INTROSPECTION_URL": "https://idp.example.com/introspect", "INTROSPECTION_CLIENT_ID": "rs", "INTROSPECTION_CLIENT_SECRET": " s e c ",
			}),
			check: func(t *testing.T, c *config, _ []string) {
				require.Equal(t, "https://idp.example.com/introspect", c.IntrospectionURL)
				require.Equal(t, " s e c ", c.IntrospectionClientSecret, "a secret is taken as it is")
			},
		},
		{
			name: "dev with nothing set", dev: true, env: map[string]string{},
			check: func(t *testing.T, c *config, w []string) {
				require.Equal(t, "127.0.0.1", c.Host)
				require.Empty(t, c.PublicURL, "set once the port is known")
				require.True(t, c.DevPIISalt)
				require.Len(t, c.PIISalt, len(devPIISalt))
				require.Len(t, w, 1)
				require.Contains(t, w[0], "PII_SALT")
			},
		},
		{
			name: "dev ignores the identity provider, loudly", dev: true,
			env: merge(validEnv(), map[string]string{"OAUTH_AUDIENCE": "api://x", "JWKS_URI": "https://t.example.com/jwks", "HOST": "localhost"}),
			check: func(t *testing.T, c *config, w []string) {
				require.Empty(t, c.Issuer)
				require.Empty(t, c.JWKSURI)
				require.Equal(t, "localhost", c.Host)
				require.Empty(t, c.PublicURL, "a provider's public URL is no use to the local sign-in")
				require.Len(t, w, 4)
				require.Contains(t, strings.Join(w, "\n"), "OAUTH_ISSUER is ignored in -dev mode")
				require.Contains(t, strings.Join(w, "\n"), "PUBLIC_URL is ignored in -dev mode")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w, err := loadConfig(tt.env, tt.dev)
			require.NoError(t, err)
			tt.check(t, c, w)
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	for k, v := range b {
		a[k] = v
	}
	return a
}

// TestStartupErrors checks settings refused when the app is built.
func TestStartupErrors(t *testing.T) {
	dir := t.TempDir()
	notKey := filepath.Join(dir, "not-a-key.pem")
	require.NoError(t, os.WriteFile(notKey, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600))
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"PostgreSQL unreachable", map[string]string{"DATABASE_URL": "postgres://starter:" + testSalt + "@127.0.0.1:1/starter?connect_timeout=5"}, "DATABASE_URL: store: postgres schema: "},
		{"PostgreSQL URL pgx refuses", map[string]string{"DATABASE_URL": "postgres://starter:" + testSalt + "@db/starter?sslmode=maybe"}, "DATABASE_URL: store: invalid PostgreSQL URL (not shown: it may hold a password)"},
		{"signing key file without a key", map[string]string{"GATEWAY_SIGNING_KEY_FILE": notKey}, "GATEWAY_SIGNING_KEY_FILE " + notKey + ": no PEM private key found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := merge(validEnv(), tt.set)
			env["PUBLIC_URL"] = "http://127.0.0.1:1/mcp"
			env["OAUTH_ISSUER"] = "http://127.0.0.1:1"
			env["JWKS_URI"] = "http://127.0.0.1:1/jwks"
			env["CRM_DB_PATH"] = filepath.Join(t.TempDir(), "crm.sqlite")
			cfg, _, err := loadConfig(env, false)
			require.NoError(t, err)
			_, err = newApp(t.Context(), cfg, discardLogger())
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), testSalt, "no message echoes a secret")
		})
	}
}
