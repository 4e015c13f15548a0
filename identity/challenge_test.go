package identity_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

const prm = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"

func TestChallengeString(t *testing.T) {
	tests := []struct {
		name string
		c    identity.Challenge
		want string
	}{
		{name: "zero", want: "Bearer"},
		{
			name: "no token",
			c:    identity.Challenge{ResourceMetadata: prm, Scope: []string{"crm:read", "notes"}},
			want: `Bearer resource_metadata="` + prm + `", scope="crm:read notes"`,
		},
		{
			name: "every field in order",
			c: identity.Challenge{
				Scheme: "Bearer", Realm: "api", ResourceMetadata: prm, Scope: []string{"a"},
				Error: "invalid_token", ErrorDescription: "token expired",
			},
			want: `Bearer realm="api", resource_metadata="` + prm + `", scope="a", error="invalid_token", error_description="token expired"`,
		},
		{
			name: "quotes and backslashes escaped",
			c:    identity.Challenge{Realm: `say "hi" \o/`, ErrorDescription: `\"`},
			want: `Bearer realm="say \"hi\" \\o/", error_description="\\\""`,
		},
		{
			name: "control bytes become spaces, tab kept",
			c:    identity.Challenge{Realm: "a\r\nWWW-Authenticate: evil\x00\x7f\tz"},
			want: "Bearer realm=\"a  WWW-Authenticate: evil  \tz\"",
		},
		{
			name: "empty scopes dropped",
			c:    identity.Challenge{Scope: []string{"", "a", "", "b"}},
			want: `Bearer scope="a b"`,
		},
		{
			name: "only empty scopes",
			c:    identity.Challenge{Scope: []string{""}},
			want: `Bearer`,
		},
		{
			name: "other scheme",
			c:    identity.Challenge{Scheme: "DPoP", Realm: "x"},
			want: `DPoP realm="x"`,
		},
		{
			name: "invalid scheme replaced",
			c:    identity.Challenge{Scheme: "Bad Scheme\r\n", Realm: "x"},
			want: `Bearer realm="x"`,
		},
		{
			name: "params sorted after known ones, invalid and repeated skipped",
			c: identity.Challenge{Error: "invalid_token", Params: map[string]string{
				"zeta": "1", "alpha": `q"`, "bad name": "x", "Realm": "dup", "error": "dup", "Alpha": "dup",
			}},
			want: `Bearer error="invalid_token", Alpha="dup", zeta="1"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.c.String())
			require.Equal(t, "x:"+tt.want, string(tt.c.AppendTo([]byte("x:"))))
		})
	}
}

func TestParseChallenges(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		want    []identity.Challenge
		wantErr bool
	}{
		{name: "empty", header: ""},
		{name: "only commas", header: " , ,"},
		{name: "bare scheme", header: "Bearer", want: []identity.Challenge{{Scheme: "Bearer"}}},
		{
			name:   "RFC 6750 example",
			header: `Bearer realm="example", error="invalid_token", error_description="The access token expired"`,
			want:   []identity.Challenge{{Scheme: "Bearer", Realm: "example", Error: "invalid_token", ErrorDescription: "The access token expired"}},
		},
		{
			name:   "RFC 9728 example with scope",
			header: `Bearer resource_metadata="` + prm + `", scope="a  b"`,
			want:   []identity.Challenge{{Scheme: "Bearer", ResourceMetadata: prm, Scope: []string{"a", "b"}}},
		},
		{
			name:   "RFC 9110 example with two challenges and escapes",
			header: `Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
			want: []identity.Challenge{
				{Scheme: "Newauth", Realm: "apps", Params: map[string]string{"type": "1", "title": `Login to "apps"`}},
				{Scheme: "Basic", Realm: "simple"},
			},
		},
		{
			name:   "token68 ignored",
			header: `Negotiate abc+/==, Bearer error=invalid_token`,
			want:   []identity.Challenge{{Scheme: "Negotiate"}, {Scheme: "Bearer", Error: "invalid_token"}},
		},
		{
			name:   "case-insensitive names, blanks around equals",
			header: "Bearer REALM = \"x\" ,\tError=invalid_request",
			want:   []identity.Challenge{{Scheme: "Bearer", Realm: "x", Error: "invalid_request"}},
		},
		{
			name:   "empty list elements",
			header: `, Bearer realm="a",, scope="s" ,`,
			want:   []identity.Challenge{{Scheme: "Bearer", Realm: "a", Scope: []string{"s"}}},
		},
		{
			name:   "schemes without params",
			header: `Basic, Bearer`,
			want:   []identity.Challenge{{Scheme: "Basic"}, {Scheme: "Bearer"}},
		},
		{
			name:   "escaped backslash and quote, utf-8 kept",
			header: `Bearer error_description="a\\b\"c – é"`,
			want:   []identity.Challenge{{Scheme: "Bearer", ErrorDescription: `a\b"c – é`}},
		},
		{name: "repeated parameter", header: `Bearer realm="a", REALM="b"`, wantErr: true},
		{name: "parameter before scheme", header: `realm="a"`, wantErr: true},
		{name: "unterminated string", header: `Bearer realm="a`, wantErr: true},
		{name: "trailing backslash", header: `Bearer realm="a\`, wantErr: true},
		{name: "missing value", header: `Bearer realm="a", scope=`, wantErr: true},
		{name: "token68-like value is a token68", header: `Bearer realm=`, want: []identity.Challenge{{Scheme: "Bearer"}}},
		{name: "missing comma", header: `Bearer realm="a" scope="b"`, wantErr: true},
		{name: "parameter after token68", header: `Basic abc==, realm="a"`, wantErr: true},
		{name: "control byte in string", header: "Bearer realm=\"a\x01\"", wantErr: true},
		{name: "stray quote", header: `"Bearer"`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := identity.ParseChallenges(tt.header)
			if tt.wantErr {
				require.ErrorIs(t, err, identity.ErrChallengeSyntax)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestChallengeRoundTrip parses what String writes, including values with
// quotes, backslashes and commas.
func TestChallengeRoundTrip(t *testing.T) {
	tests := []identity.Challenge{
		{Scheme: "Bearer"},
		{Scheme: "Bearer", ResourceMetadata: prm, Scope: []string{"crm:read", "notes"}},
		{Scheme: "Bearer", Realm: `a "quoted" realm`, Error: "invalid_token", ErrorDescription: `back\slash, comma = "both"`},
		{Scheme: "Bearer", Realm: `\`, ErrorDescription: `"`},
		{Scheme: "DPoP", Realm: "x", Params: map[string]string{"algs": "ES256 RS256", "max_age": `"5"`}},
	}
	for _, c := range tests {
		t.Run(c.String(), func(t *testing.T) {
			got, err := identity.ParseChallenges(c.String())
			require.NoError(t, err)
			require.Equal(t, []identity.Challenge{c}, got)

			// Two challenges in one header value.
			both := c.String() + ", " + c.String()
			got, err = identity.ParseChallenges(both)
			require.NoError(t, err)
			require.Equal(t, []identity.Challenge{c, c}, got)
		})
	}
}

func FuzzChallengeRoundTrip(f *testing.F) {
	f.Add("api", prm, "a b", "invalid_token", `say "hi" \o/`, "k", "v")
	f.Add("", "", "", "", "", "", "")
	f.Add("\\", "\"", ",", "=", "\r\n", "Realm", "\x00")
	f.Fuzz(func(t *testing.T, realm, rm, scope, code, desc, pname, pvalue string) {
		c := identity.Challenge{
			Realm: realm, ResourceMetadata: rm, Scope: strings.Fields(scope),
			Error: code, ErrorDescription: desc,
		}
		if pname != "" {
			c.Params = map[string]string{pname: pvalue}
		}
		s := c.String()
		got, err := identity.ParseChallenges(s)
		if err != nil {
			t.Fatalf("ParseChallenges(%q): %v", s, err)
		}
		if len(got) != 1 {
			t.Fatalf("ParseChallenges(%q) = %d challenges", s, len(got))
		}
		g := got[0]
		// What a header can carry: control bytes other than HTAB become
		// spaces; scopes are split on blanks.
		want := identity.Challenge{
			Scheme:           "Bearer",
			Realm:            headerSafe(realm),
			ResourceMetadata: headerSafe(rm),
			Scope:            strings.Fields(headerSafe(strings.Join(c.Scope, " "))),
			Error:            headerSafe(code),
			ErrorDescription: headerSafe(desc),
		}
		if len(want.Scope) == 0 {
			want.Scope = nil
		}
		if lower := strings.ToLower(pname); isFuzzToken(pname) && !slices.Contains([]string{"realm", "resource_metadata", "scope", "error", "error_description"}, lower) {
			want.Params = map[string]string{lower: headerSafe(pvalue)}
		}
		require.Equal(t, want, g, "round trip of %q", s)
	})
}

// headerSafe applies the replacement String makes for bytes a header cannot
// carry.
func headerSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}

func isFuzzToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		err        error
		wantStatus int
		wantCode   string
		wantDesc   string
	}{
		{nil, 200, "", ""},
		{identity.ErrMissingToken, 401, "", "missing bearer token"},
		{identity.ErrInvalidRequest, 400, "invalid_request", "malformed authorization request"},
		{identity.ErrKeysUnavailable, 503, "", "signing keys unavailable"},
		{identity.ErrVerifierUnavailable, 503, "", "token verifier unavailable"},
		{identity.ErrEncryptedToken, 401, "invalid_token", "encrypted token (JWE) not supported"},
		{identity.ErrOpaqueToken, 401, "invalid_token", "opaque token not accepted"},
		{identity.ErrMalformedToken, 401, "invalid_token", "malformed token"},
		{identity.ErrExpired, 401, "invalid_token", "token expired"},
		{identity.ErrNotYetValid, 401, "invalid_token", "token not yet valid"},
		{identity.ErrMissingClaim, 401, "invalid_token", "token lacks a required claim"},
		{identity.ErrBadIssuer, 401, "invalid_token", "token issuer not accepted"},
		{identity.ErrBadAudience, 401, "invalid_token", "token audience not accepted"},
		{identity.ErrBadType, 401, "invalid_token", "token type not accepted"},
		{identity.ErrBoundToken, 401, "invalid_token", "sender-constrained token not accepted as a bearer token"},
		{identity.ErrBadAlgorithm, 401, "invalid_token", "token signing algorithm not accepted"},
		{identity.ErrBadSignature, 401, "invalid_token", "token signature invalid"},
		{identity.ErrUnknownKey, 401, "invalid_token", "token signing key unknown"},
		{identity.ErrUnsupportedHeader, 401, "invalid_token", "token header not supported"},
		{identity.ErrInactive, 401, "invalid_token", "token not active"},
		{fmt.Errorf("jwt: kid k9 at https://idp/jwks: %w", identity.ErrBadSignature), 401, "invalid_token", "token signature invalid"},
		{fmt.Errorf("fetch: %w: dial tcp: refused", identity.ErrKeysUnavailable), 503, "", "signing keys unavailable"},
		{&scopes.InsufficientScopeError{Missing: []string{"a"}}, 403, "insufficient_scope", "insufficient scope"},
		{errors.New("custom verifier said no: secret detail"), 401, "invalid_token", "token invalid"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.err), func(t *testing.T) {
			status, code, desc := identity.Describe(tt.err)
			require.Equal(t, tt.wantStatus, status)
			require.Equal(t, tt.wantCode, code)
			require.Equal(t, tt.wantDesc, desc)
			require.NotContains(t, desc, "secret")
			require.NotContains(t, desc, "https://")
		})
	}
	_, _, desc := identity.Describe(identity.ErrEncryptedToken)
	require.Contains(t, desc, "encrypted")
	require.Less(t, len(desc), len(identity.ErrEncryptedToken.Error()))
}

func TestWriteChallenge(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		c          identity.Challenge
		wantHeader string
		wantBody   map[string]string
	}{
		{
			name:       "invalid token",
			status:     401,
			c:          identity.Challenge{ResourceMetadata: prm, Error: "invalid_token", ErrorDescription: "token expired"},
			wantHeader: `Bearer resource_metadata="` + prm + `", error="invalid_token", error_description="token expired"`,
			wantBody:   map[string]string{"error": "invalid_token", "error_description": "token expired"},
		},
		{
			name:       "no error code",
			status:     401,
			c:          identity.Challenge{ResourceMetadata: prm, Scope: []string{"a"}},
			wantHeader: `Bearer resource_metadata="` + prm + `", scope="a"`,
			wantBody:   map[string]string{"error": "unauthorized", "error_description": "unauthorized"},
		},
		{
			name:       "insufficient scope",
			status:     403,
			c:          identity.Challenge{ResourceMetadata: prm, Scope: []string{"a", "b"}, Error: "insufficient_scope", ErrorDescription: `needs "a"`},
			wantHeader: `Bearer resource_metadata="` + prm + `", scope="a b", error="insufficient_scope", error_description="needs \"a\""`,
			wantBody:   map[string]string{"error": "insufficient_scope", "error_description": `needs "a"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				identity.WriteChallenge(w, tt.status, tt.c)
			}))
			defer srv.Close()
			res, err := http.Get(srv.URL)
			require.NoError(t, err)
			defer res.Body.Close()
			require.Equal(t, tt.status, res.StatusCode)
			require.Equal(t, []string{tt.wantHeader}, res.Header.Values("WWW-Authenticate"))
			require.Equal(t, "no-store", res.Header.Get("Cache-Control"))
			require.Equal(t, "application/json", res.Header.Get("Content-Type"))
			raw, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			var body map[string]string
			require.NoError(t, json.Unmarshal(raw, &body))
			require.Equal(t, tt.wantBody, body)

			parsed, err := identity.ParseChallenges(res.Header.Get("WWW-Authenticate"))
			require.NoError(t, err)
			want := tt.c
			want.Scheme = "Bearer"
			require.Equal(t, []identity.Challenge{want}, parsed)
		})
	}
}

func TestChallengeAppendDoesNotAllocate(t *testing.T) {
	c := identity.Challenge{Realm: "api", ResourceMetadata: prm, Scope: []string{"crm:read", "notes"}, Error: "invalid_token", ErrorDescription: "token expired"}
	buf := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		buf = c.AppendTo(buf[:0])
	})
	require.Zero(t, allocs)
}

func BenchmarkChallengeAppend(b *testing.B) {
	c := identity.Challenge{ResourceMetadata: prm, Scope: []string{"crm:read", "notes"}, Error: "invalid_token", ErrorDescription: "token expired"}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = c.AppendTo(buf[:0])
	}
}

// FuzzParseChallenges feeds arbitrary header values to the parser: it must
// not panic, and what it accepts must survive String and a second parse.
func FuzzParseChallenges(f *testing.F) {
	f.Add(`Bearer realm="a", error="invalid_token"`)
	f.Add(`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`)
	f.Add(`Negotiate abc==, Bearer`)
	f.Add(`, ,Bearer scope="a b" ,`)
	f.Add(`Bearer realm="\`)
	f.Fuzz(func(t *testing.T, header string) {
		got, err := identity.ParseChallenges(header)
		if err != nil {
			require.ErrorIs(t, err, identity.ErrChallengeSyntax)
			require.Nil(t, got)
			return
		}
		for _, c := range got {
			again, err := identity.ParseChallenges(c.String())
			require.NoError(t, err, "reparse of %q", c.String())
			require.Len(t, again, 1)
			want := c
			if !isFuzzToken(want.Scheme) {
				want.Scheme = "Bearer"
			}
			want.Realm = headerSafe(want.Realm)
			want.ResourceMetadata = headerSafe(want.ResourceMetadata)
			want.Error = headerSafe(want.Error)
			want.ErrorDescription = headerSafe(want.ErrorDescription)
			for k, v := range want.Params {
				want.Params[k] = headerSafe(v)
			}
			require.Equal(t, want, again[0])
		}
	})
}
