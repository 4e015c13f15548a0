package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestParseDotEnv checks the .env syntax, line by line.
func TestParseDotEnv(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr string
	}{
		{name: "plain", in: "PORT=8080\n", want: map[string]string{"PORT": "8080"}},
		{name: "comments and blank lines", in: "# the port\n\n  # indented comment\nPORT=8080\n", want: map[string]string{"PORT": "8080"}},
		{name: "spaces around", in: "  PORT = 8080  \n", want: map[string]string{"PORT": "8080"}},
		{name: "export prefix", in: "export PORT=8080\n", want: map[string]string{"PORT": "8080"}},
		{name: "inline comment", in: "PORT=8080 # default 3000\n", want: map[string]string{"PORT": "8080"}},
		{name: "hash inside a value", in: "PII_SALT=abc#def\n", want: map[string]string{"PII_SALT": "abc#def"}},
		{name: "empty value", in: "APP_ORIGIN=\n", want: map[string]string{"APP_ORIGIN": ""}},
		{name: "double quotes", in: `OAUTH_SCOPES="openid email # not a comment"` + "\n", want: map[string]string{"OAUTH_SCOPES": "openid email # not a comment"}},
		{name: "double-quote escapes", in: `X="a\"b\\c\nd"`, want: map[string]string{"X": "a\"b\\c\nd"}},
		{name: "single quotes are literal", in: `X='a\nb $HOME'`, want: map[string]string{"X": `a\nb $HOME`}},
		{name: "comment after quotes", in: `X="v" # note`, want: map[string]string{"X": "v"}},
		{name: "equals in a value", in: "DATABASE_URL=postgres://u:p@db/x?sslmode=require\n", want: map[string]string{"DATABASE_URL": "postgres://u:p@db/x?sslmode=require"}},
		{name: "last one wins", in: "PORT=1\nPORT=2\n", want: map[string]string{"PORT": "2"}},
		{name: "byte order mark", in: "\ufeffPORT=1\n", want: map[string]string{"PORT": "1"}},
		{name: "CRLF", in: "PORT=1\r\nHOST=::1\r\n", want: map[string]string{"PORT": "1", "HOST": "::1"}},
		{name: "no equals", in: "PORT\n", wantErr: "line 1: want KEY=VALUE"},
		{name: "bad key", in: "# ok\nMY-VAR=1\n", wantErr: "line 2: want KEY=VALUE"},
		{name: "key starts with a digit", in: "1X=1\n", wantErr: "line 1: want KEY=VALUE"},
		{name: "unterminated quote", in: "PII_SALT=\"secret-value\n", wantErr: "line 1 (PII_SALT): unterminated quoted value"},
		{name: "text after quote", in: `X="a" b`, wantErr: "line 1 (X): text after the closing quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDotEnv(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				require.Error(t, err)
				require.True(t, strings.HasPrefix(err.Error(), tt.wantErr), err.Error())
				require.NotContains(t, err.Error(), "secret-value", "a value is never echoed")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestEnvironment checks that .env is loaded and that the real environment
// wins over it.
func TestEnvironment(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".env")
	require.NoError(t, os.WriteFile(path, []byte("PORT=4000\nPII_SALT=from-the-file-0123456789\nEMPTY_IN_ENV=file\n"), 0o600))

	env, err := environment([]string{"PORT=5000", "EMPTY_IN_ENV=", "OTHER=x=y"}, path)
	require.NoError(t, err)
	require.Equal(t, "5000", env["PORT"], "the environment wins")
	require.Equal(t, "from-the-file-0123456789", env["PII_SALT"], "the file fills in")
	require.Equal(t, "", env["EMPTY_IN_ENV"], "set in the environment, even empty, wins")
	require.Equal(t, "x=y", env["OTHER"])

	env, err = environment([]string{"PORT=5000"}, filepath.Join(dir, "absent.env"))
	require.NoError(t, err, "no .env is fine")
	require.Equal(t, map[string]string{"PORT": "5000"}, env)

	require.NoError(t, os.WriteFile(path, []byte("not a line\n"), 0o600))
	_, err = environment(nil, path)
	require.ErrorContains(t, err, ".env: line 1")

	// The loaded file configures the server.
	require.NoError(t, os.WriteFile(path, []byte("OAUTH_ISSUER=https://t.example.com/\nPUBLIC_URL=https://mcp.example.com/mcp\nPII_SALT='"+testSalt+"'\n"), 0o600))
	env, err = environment(nil, path)
	require.NoError(t, err)
	cfg, _, err := loadConfig(env, false)
	require.NoError(t, err)
	require.Equal(t, "https://t.example.com/", cfg.Issuer)
	require.Equal(t, []byte(testSalt), cfg.PIISalt)
}

// TestEnvExampleDocumentsEveryVariable checks that .env.example names
// every variable the starter reads, each with an example value.
func TestEnvExampleDocumentsEveryVariable(t *testing.T) {
	b, err := os.ReadFile(".env.example")
	require.NoError(t, err)
	example := string(b)
	vars := []string{
		"OAUTH_ISSUER", "OAUTH_AUDIENCE", "OAUTH_SCOPES", "JWKS_URI", "OIDC_DISCOVERY", "PORT", "HOST", "APP_ORIGIN",
		"PII_SALT", "CRM_DB_PATH", "USER_HASH_SALT", "SERVICE_NAME", "DEBUG", "PUBLIC_URL", "DATABASE_URL",
		"DEMO_API_URL", "RATE_LIMIT_PER_MIN", "RATE_LIMIT_PER_IP_PER_MIN", "STATELESS", "REDIS_URL", "REDIS_PREFIX", "RATE_LIMIT_FAIL_OPEN", "GATEWAY_SIGNING_KEY_FILE", "GATEWAY_JWKS_URL",
		"TRUSTED_PROXIES", "INTROSPECTION_URL", "INTROSPECTION_CLIENT_ID", "INTROSPECTION_CLIENT_SECRET", "K_REVISION", "GIT_SHA",
	}
	for _, v := range vars {
		require.Regexp(t, `(?m)^#? ?`+v+`=\S`, example, "%s has no example line", v)
	}
	// The example itself parses.
	_, err = parseDotEnv(strings.NewReader(example))
	require.NoError(t, err)
}
