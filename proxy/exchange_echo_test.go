package proxy_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
)

// A token endpoint that echoes the request it got in its
// error_description echoes the credentials as they were sent: form-encoded
// in the body (AuthStyleInBody, and the subject token always), or in the
// Basic header (AuthStyleBasic). Neither form may reach the ExchangeError.
func TestExchangeErrorRedactsEncodedCredentials(t *testing.T) {
	const secret = "cl+sec/ret=="           // a base64 secret: form encoding changes it
	const subject = "opq+tok/en-of-alice==" // an opaque token of RFC 6750 b64token syntax
	basic := base64.StdEncoding.EncodeToString([]byte("gateway:" + url.QueryEscape(secret)))
	forbidden := []string{secret, url.QueryEscape(secret), subject, url.QueryEscape(subject), basic}
	for _, tc := range []struct {
		name  string
		style proxy.AuthStyle
		echo  func(r *http.Request, body []byte) string
	}{
		{"body, in body", proxy.AuthStyleInBody, func(_ *http.Request, body []byte) string { return "cannot parse " + string(body) }},
		{"body, basic", proxy.AuthStyleBasic, func(_ *http.Request, body []byte) string { return "cannot parse " + string(body) }},
		{"subject token as sent", proxy.AuthStyleBasic, func(_ *http.Request, body []byte) string {
			_, sent, _ := strings.Cut(string(body), "subject_token=")
			return "cannot use subject_token=" + sent
		}},
		{"authorization header", proxy.AuthStyleBasic, func(r *http.Request, _ []byte) string {
			return "bad client " + r.Header.Get("Authorization")
		}},
		{"body re-encoded, lower-case escapes", proxy.AuthStyleInBody, func(_ *http.Request, body []byte) string {
			return "cannot parse " + strings.ToLower(string(body))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_request", "error_description": tc.echo(r, body)})
			}))
			defer srv.Close()
			x := newTestExchange(t, srv.URL+"/token", func(c *proxy.ExchangeConfig) {
				c.ClientSecret = secret
				c.AuthStyle = tc.style
			})
			id := identity.Identity{Subject: "alice", Audience: []string{"https://mcp.example.com/mcp"}}.WithToken(subject)
			_, err := x.Token(context.Background(), id)
			var xe *proxy.ExchangeError
			require.ErrorAs(t, err, &xe)
			require.Equal(t, "invalid_request", xe.Code)
			require.NotEmpty(t, xe.Description, "the description is kept")
			for _, s := range forbidden {
				require.NotContains(t, err.Error(), s)
				require.NotContains(t, xe.Description, s)
				require.NotContains(t, strings.ToLower(xe.Description), strings.ToLower(url.QueryEscape(s)))
			}
		})
	}
}
