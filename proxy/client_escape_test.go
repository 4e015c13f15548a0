package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
)

// A backend that echoes the Authorization header in a JSON error body
// writes it as its JSON encoder escapes it: PHP's json_encode writes "/"
// as "\/", .NET's System.Text.Json writes "+" as "\u002B"; one that echoes
// it URL-encoded may use lower-case escapes ("%2b"). An opaque token of
// RFC 6750 b64token syntax, or a Basic credential, holds those
// characters, and must not reach the *Error in any of these forms.
func TestClientErrorRedactsEscapedCredential(t *testing.T) {
	const tok = "opq+tok/en-of+alice/x=="
	for _, tc := range []struct {
		name   string
		encode func(string) string
	}{
		{"json escaped slash", func(s string) string { return strings.ReplaceAll(s, "/", `\/`) }},
		{"json unicode escapes", func(s string) string {
			return strings.NewReplacer("+", `\u002B`, "/", `\u002f`, "=", `\u003D`).Replace(s)
		}},
		{"lower-case percent escapes", func(s string) string { return strings.ToLower(url.QueryEscape(s)) }},
		{"percent escapes", url.QueryEscape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			echoed := tc.encode(tok)
			require.NotEqual(t, tok, echoed)
			be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
				_, _ = io.WriteString(w, `{"error":"invalid_token","got":"Bearer `+tc.encode(cred)+`","hint":"a\/b"}`)
			})
			c := forwardClient(t, be.srv.URL+"/", nil)
			id := identity.Identity{Subject: "alice", Audience: []string{mcpAud}}.WithToken(tok)
			err := c.Do(context.Background(), id, http.MethodGet, "x", nil, nil)
			var pe *proxy.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, `{"error":"invalid_token","got":"Bearer [redacted]","hint":"a\/b"}`, string(pe.Body))
			require.NotContains(t, err.Error(), echoed)
		})
	}
}

// The error body is read past MaxErrorBodyBytes by the length of the
// longest secret, so that a secret starting inside the bound is read whole
// and redacted before the cut, or, cut by the read, dropped from its
// start. Escaped, a secret is longer (up to six bytes a character): one
// starting inside the bound is cut by the read, and must be dropped too.
func TestClientErrorRedactsEscapedCredentialAcrossTheBound(t *testing.T) {
	const tok = "a/b/c/d/e/f/g/h/i/j/k/l/"
	escaped := strings.ReplaceAll(tok, "/", `\u002f`)
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, "got token "+escaped+" and more text after it")
	})
	c := forwardClient(t, be.srv.URL+"/", func(cfg *proxy.Config) { cfg.MaxErrorBodyBytes = 40 })
	id := identity.Identity{Subject: "alice", Audience: []string{mcpAud}}.WithToken(tok)
	err := c.Do(context.Background(), id, http.MethodGet, "x", nil, nil)
	var pe *proxy.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "got token ", string(pe.Body))
	require.True(t, pe.Truncated)
	for _, cut := range []string{`a\u002fb`, `a\u002`, `a\u00`, `a\u`, `a\`, `a%2`} { // cut inside an escape too
		be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "got token x "+cut)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler) // the connection drops mid-token
		})
		c := forwardClient(t, be.srv.URL+"/", nil)
		err := c.Do(context.Background(), id, http.MethodGet, "x", nil, nil)
		require.ErrorAs(t, err, &pe)
		require.Equal(t, "got token x ", string(pe.Body), "cut after %q", cut)
	}
}
