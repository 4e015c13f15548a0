package proxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
)

const mcpAud = "https://mcp.example.com/mcp"

// forwardClient returns a Client for base that forwards alice's token.
func forwardClient(t *testing.T, base string, mod func(*proxy.Config)) *proxy.Client {
	t.Helper()
	cfg := proxy.Config{BaseURL: base, Credential: proxy.Forward(mcpAud)}
	if mod != nil {
		mod(&cfg)
	}
	c, err := proxy.New(cfg)
	require.NoError(t, err)
	return c
}

func TestClientDoJSON(t *testing.T) {
	type note struct {
		Text string `json:"text"`
	}
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		var in note
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "note": in, "method": r.Method})
	})
	c := forwardClient(t, be.srv.URL+"/api/", func(c *proxy.Config) { c.UserAgent = "starter/1.0" })

	var out struct {
		OK     bool   `json:"ok"`
		Note   note   `json:"note"`
		Method string `json:"method"`
	}
	require.NoError(t, c.Do(context.Background(), withAud(mcpAud), http.MethodPost, "notes", note{Text: "hi"}, &out))
	require.True(t, out.OK)
	require.Equal(t, "hi", out.Note.Text)
	require.Equal(t, http.MethodPost, out.Method)

	h, path := be.last()
	require.Equal(t, "/api/notes", path)
	require.Equal(t, "application/json", h.Get("Content-Type"))
	require.Equal(t, "application/json", h.Get("Accept"))
	require.Equal(t, "starter/1.0", h.Get("User-Agent"))
	require.Equal(t, "Bearer "+userToken, h.Get("Authorization"))
}

func TestClientDoEmptyAndUndecodable(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		wantErr string
	}{
		{"no content", http.StatusNoContent, "", ""},
		{"empty 200", http.StatusOK, "", ""},
		{"not json", http.StatusOK, "<html>", "decode response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := forwardClient(t, be.srv.URL, nil)
			out := map[string]any{"kept": true}
			err := c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "x", nil, &out)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, map[string]any{"kept": true}, out)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestClientTimeout(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"no answer", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
		{"body stalls", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":`)
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newBackend(t, tt.handler)
			c := forwardClient(t, be.srv.URL, func(c *proxy.Config) { c.Timeout = 50 * time.Millisecond })
			var out map[string]any
			err := c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "slow", nil, &out)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.NotContains(t, err.Error(), userToken)
		})
	}
}

func TestClientCallerCancels(t *testing.T) {
	started := make(chan struct{})
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	c := forwardClient(t, be.srv.URL, nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	err := c.Do(ctx, withAud(mcpAud), http.MethodGet, "slow", nil, nil)
	require.ErrorIs(t, err, context.Canceled)
}

func TestClientResponseLimit(t *testing.T) {
	const limit = 1000
	big := `"` + strings.Repeat("a", limit) + `"` // limit+2 bytes
	fits := `"` + strings.Repeat("a", limit-2) + `"`
	tests := []struct {
		name    string
		body    string
		chunked bool
		wantErr error
	}{
		{"fits exactly", fits, false, nil},
		{"fits exactly, chunked", fits, true, nil},
		{"too large, Content-Length", big, false, proxy.ErrResponseTooLarge},
		{"too large, chunked", big, true, proxy.ErrResponseTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
				if !tt.chunked {
					w.Header().Set("Content-Length", fmt.Sprint(len(tt.body)))
				}
				for i := 0; i < len(tt.body); i += 100 {
					_, _ = io.WriteString(w, tt.body[i:min(i+100, len(tt.body))])
					w.(http.Flusher).Flush()
				}
			})
			c := forwardClient(t, be.srv.URL, func(c *proxy.Config) { c.MaxResponseBytes = limit })
			var out string
			err := c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "big", nil, &out)
			if tt.wantErr == nil {
				require.NoError(t, err)
				require.Len(t, out, limit-2)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestClientRequestLimitsBody(t *testing.T) {
	be := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNotFound) // Request returns any status
		for range 20 {
			_, _ = io.WriteString(w, strings.Repeat("x", 100))
			w.(http.Flusher).Flush()
		}
	})
	c := forwardClient(t, be.srv.URL, func(c *proxy.Config) { c.MaxResponseBytes = 1000 })
	resp, err := c.Request(context.Background(), withAud(mcpAud), http.MethodGet, "stream",
		nil, http.Header{"authorization": {"Bearer not-this-one"}, "X-Custom": {"1"}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.ErrorIs(t, err, proxy.ErrResponseTooLarge)
	require.Len(t, b, 1000)

	h, _ := be.last()
	require.Equal(t, []string{"Bearer " + userToken}, h.Values("Authorization"), "the Credential's header replaces the caller's")
	require.Equal(t, "1", h.Get("X-Custom"))
}

type ctxKey struct{}

func TestClientRequestID(t *testing.T) {
	fromCtx := func(ctx context.Context) string { s, _ := ctx.Value(ctxKey{}).(string); return s }
	tests := []struct {
		name string
		fn   func(context.Context) string
		ctx  string
		want string
	}{
		{"propagated", fromCtx, "req-0123456789abcdef", "req-0123456789abcdef"},
		{"empty not sent", fromCtx, "", ""},
		{"line break not sent", fromCtx, "req\r\nX-Evil: 1", ""},
		{"too long not sent", fromCtx, strings.Repeat("r", 201), ""},
		{"no function", nil, "req-1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newBackend(t, nil)
			c := forwardClient(t, be.srv.URL, func(c *proxy.Config) { c.RequestID = tt.fn })
			ctx := context.WithValue(context.Background(), ctxKey{}, tt.ctx)
			require.NoError(t, c.Do(ctx, withAud(mcpAud), http.MethodGet, "x", nil, nil))
			h, _ := be.last()
			require.Equal(t, tt.want, h.Get("X-Request-Id"))
			require.Empty(t, h.Get("X-Evil"))
		})
	}
}

func TestClientError(t *testing.T) {
	denied := `{"ok":false,"error":"cross_user_access_denied","explanation":"you can only read your own CRM data"}`
	long := strings.Repeat("0123456789", 1000)
	tests := []struct {
		name          string
		status        int
		body          string
		maxErrBody    int
		path          string
		wantBody      string
		wantTruncated bool
		wantText      string
	}{
		{
			name: "403 with json", status: 403, body: denied, path: "crm/read?target=bob&api_key=hush",
			wantBody: denied,
			wantText: "proxy: GET %s/crm/read: status 403: " + denied,
		},
		{
			name: "500 long body bounded", status: 500, body: long, path: "x",
			wantBody: long[:4096], wantTruncated: true,
			wantText: "proxy: GET %s/x: status 500: " + long[:200] + "...",
		},
		{
			name: "custom bound", status: 502, body: long, maxErrBody: 10, path: "x",
			wantBody: long[:10], wantTruncated: true,
			wantText: "proxy: GET %s/x: status 502: 0123456789",
		},
		{
			name: "empty body", status: 404, path: "x",
			wantBody: "",
			wantText: "proxy: GET %s/x: status 404",
		},
		{
			name: "multi-line body on one line", status: 400, body: "line one\n\tline two\r\n", path: "x",
			wantBody: "line one\n\tline two\r\n",
			wantText: "proxy: GET %s/x: status 400: line one line two",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newBackend(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				_, _ = io.WriteString(w, tt.body)
			})
			c := forwardClient(t, be.srv.URL, func(c *proxy.Config) { c.MaxErrorBodyBytes = tt.maxErrBody })
			err := c.Do(context.Background(), withAud(mcpAud), http.MethodGet, tt.path, nil, nil)
			var pe *proxy.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, tt.status, pe.Status)
			require.Equal(t, http.MethodGet, pe.Method)
			require.Equal(t, "application/json", pe.ContentType)
			require.Equal(t, tt.wantBody, string(pe.Body))
			require.Equal(t, tt.wantTruncated, pe.Truncated)
			require.Equal(t, fmt.Sprintf(tt.wantText, be.srv.URL), err.Error())
			require.NotContains(t, pe.URL, "?")
			require.NotContains(t, err.Error(), "hush")
		})
	}
}

// A backend that echoes the Authorization header into its error body (a
// debug endpoint, a careless framework) must not make the token appear in
// the *Error or its text, whichever credential sent it.
func TestClientErrorRedactsCredential(t *testing.T) {
	echo := func(prefix string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, prefix+`{"error":"invalid_token","got":"`+r.Header.Get("Authorization")+`"}`)
		}
	}
	te := newFakeTokenEndpoint(t)
	x := newTestExchange(t, te.URL(), nil)
	tests := []struct {
		name       string
		cred       proxy.Credential
		prefix     string
		maxErrBody int
		secrets    []string
	}{
		{"forwarded token", proxy.Forward(mcpAud), "", 0, []string{userToken}},
		{"exchanged token", x, "", 0, []string{"xt-1", userToken}},
		{"token across the bound", proxy.Forward(mcpAud), "", 45, []string{userToken, userToken[:6]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			be := newBackend(t, echo(tt.prefix))
			c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: tt.cred, MaxErrorBodyBytes: tt.maxErrBody})
			require.NoError(t, err)
			err = c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "x", nil, nil)
			var pe *proxy.Error
			require.ErrorAs(t, err, &pe)
			require.Contains(t, string(pe.Body), "[red")
			for _, s := range tt.secrets {
				require.NotContains(t, string(pe.Body), s)
				require.NotContains(t, err.Error(), s)
				require.NotContains(t, fmt.Sprintf("%+v", err), s)
			}
		})
	}
}

// A backend that echoes the token twice, the second copy starting just
// past the bound: redacting the first copy (to the shorter "[redacted]")
// must not pull into the kept bytes the start of the second, which the
// read stopped inside and so could not redact whole.
func TestClientErrorRedactsSecretCutByTheRead(t *testing.T) {
	const bound = 200
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		w.WriteHeader(http.StatusBadRequest)
		first := `{"got":"` + auth + `",`
		pad := strings.Repeat(" ", bound+2-len(first))
		_, _ = io.WriteString(w, first+pad+auth+`"}`)
	})
	c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: proxy.Forward(mcpAud), MaxErrorBodyBytes: bound})
	require.NoError(t, err)
	err = c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "x", nil, nil)
	var pe *proxy.Error
	require.ErrorAs(t, err, &pe)
	require.True(t, pe.Truncated)
	require.Contains(t, string(pe.Body), "[redacted]")
	for i := 0; i+8 <= len(userToken); i++ {
		require.NotContains(t, string(pe.Body), userToken[i:i+8], "a piece of the token at %d", i)
	}
}

// TestClientErrorReadPastResponseLimit: an error body is read to its own
// bound even when MaxResponseBytes is smaller, so that an echoed token
// the smaller limit would have cut in two is redacted or dropped whole,
// and Truncated is true for a body that went on.
func TestClientErrorReadPastResponseLimit(t *testing.T) {
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_token","detail":"`+strings.Repeat("x", 40)+`","got":"`)
		w.(http.Flusher).Flush() // chunked: no Content-Length
		_, _ = io.WriteString(w, r.Header.Get("Authorization")+`"}`+strings.Repeat(" ", 5000))
	})
	c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: proxy.Forward(mcpAud), MaxResponseBytes: 100, MaxErrorBodyBytes: 1000})
	require.NoError(t, err)
	err = c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "x", nil, nil)
	var pe *proxy.Error
	require.ErrorAs(t, err, &pe)
	for i := 0; i+8 <= len(userToken); i++ {
		require.NotContains(t, string(pe.Body), userToken[i:i+8], "a piece of the token at %d", i)
	}
	require.Contains(t, string(pe.Body), "[redacted]")
	require.Len(t, pe.Body, 1000, "read to MaxErrorBodyBytes, not to MaxResponseBytes")
	require.True(t, pe.Truncated, "the body went on")
}

// TestClientErrorBodyCutByReadError: an error body whose read fails (the
// connection drops, the Timeout fires) may have been cut inside an echoed
// token: its start is dropped, as at the read's bound.
func TestClientErrorBodyCutByReadError(t *testing.T) {
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Length", "500")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":"invalid_token","got":"`+tok[:len(tok)-4])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the connection drops mid-body
	})
	c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: proxy.Forward(mcpAud)})
	require.NoError(t, err)
	err = c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "x", nil, nil)
	var pe *proxy.Error
	require.ErrorAs(t, err, &pe)
	for i := 0; i+8 <= len(userToken); i++ {
		require.NotContains(t, string(pe.Body), userToken[i:i+8], "a piece of the token at %d: %q", i, pe.Body)
	}
	require.True(t, pe.Truncated)
}

// TestClientErrorRedactsAnyScheme: a Credential that sends another scheme
// than Bearer (Basic, DPoP, a lower-case bearer) has its credential
// redacted from an error body all the same.
func TestClientErrorRedactsAnyScheme(t *testing.T) {
	const secret = "c2VydmljZTpodW50ZXIy"
	for _, scheme := range []string{"Basic", "DPoP", "bearer"} {
		t.Run(scheme, func(t *testing.T) {
			be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
				_, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, "bad credentials: "+cred)
			})
			c := forwardClient(t, be.srv.URL+"/", func(cfg *proxy.Config) {
				cfg.Credential = proxy.CredentialFunc(func(_ context.Context, req *http.Request, _ *identity.Identity) error {
					req.Header.Set("Authorization", scheme+" "+secret)
					return nil
				})
			})
			err := c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "x", nil, nil)
			var pe *proxy.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "bad credentials: [redacted]", string(pe.Body))
			require.NotContains(t, err.Error(), secret)
		})
	}
}

// TestClientContentLengthOfBodilessAndErrorAnswers: the early refusal of
// an answer whose Content-Length is above MaxResponseBytes is for 2xx
// bodies only. A large error is still an *Error (its body read bounded),
// and a HEAD answer, which has no body, is not refused for the length of
// the resource it describes.
func TestClientContentLengthOfBodilessAndErrorAnswers(t *testing.T) {
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/file" {
			w.Header().Set("Content-Length", fmt.Sprint(5<<20))
			w.WriteHeader(http.StatusOK)
			return
		}
		body := strings.Repeat("x", 2<<20)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, body)
	})
	c := forwardClient(t, be.srv.URL+"/", nil)
	err := c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "x", nil, nil)
	var pe *proxy.Error
	require.ErrorAs(t, err, &pe, "got %v", err)
	require.Equal(t, http.StatusServiceUnavailable, pe.Status)
	require.True(t, pe.Truncated)

	resp, err := c.Request(context.Background(), withAud(mcpAud), http.MethodHead, "file", nil, nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, int64(5<<20), resp.ContentLength)

	// A 2xx GET of it is still refused before it is read.
	_, err = c.Request(context.Background(), withAud(mcpAud), http.MethodGet, "file", nil, nil)
	require.ErrorIs(t, err, proxy.ErrResponseTooLarge)
}

func TestClientPath(t *testing.T) {
	tests := []struct {
		path string
		want string // escaped path and query the backend sees; "" means refused
	}{
		{"deals", "/api/v1/deals"},
		{"/deals", "/api/v1/deals"},
		{"deals/42/", "/api/v1/deals/42/"},
		{"", "/api/v1/"},
		{"/", "/api/v1/"},
		{"a b", "/api/v1/a%20b"},
		{"%41", "/api/v1/A"},
		{"caf%C3%A9", "/api/v1/caf%C3%A9"},
		{"a:b@c", "/api/v1/a:b@c"},
		{"search?q=a+b&n=1", "/api/v1/search?q=a+b&n=1"},
		{"..x/x..", "/api/v1/..x/x.."},
		{"//evil.example/x", "/api/v1/evil.example/x"},
		{"..", ""},
		{".", ""},
		{"../admin", ""},
		{"a/../../admin", ""},
		{"a/./b", ""},
		{"%2e%2e/admin", ""},
		{"%2E%2E", ""},
		{".%2e/admin", ""},
		{"a%2fb", ""},
		{"a%2F..%2Fadmin", ""},
		{"a%5cb", ""},
		{"a\\..\\admin", ""},
		{"..;/admin", ""},
		{"%252e%252e/admin", ""},
		{"%252f", ""},
		{"a//b", ""},
		{"http://evil.example/x", ""},
		{"a#frag", ""},
		{"a%00b", ""},
		{"a\nb", ""},
		{"a%zz", ""},
		{"a?x=%zz", ""},
		{"a?x=1\r\nX-Evil: 1", ""},
		{"a?q=a b", ""},
		{"a?q=<script>", ""},
		{"a?q=café", ""},
		{"a?q=caf%C3%A9&r=a%2Fb", "/api/v1/a?q=caf%C3%A9&r=a%2Fb"},
		{"a?next=/x?y=1&k=v~!$'()*,:@", "/api/v1/a?next=/x?y=1&k=v~!$'()*,:@"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.path), func(t *testing.T) {
			be := newBackend(t, nil)
			c := forwardClient(t, be.srv.URL+"/api/v1/", nil)
			err := c.Do(context.Background(), withAud(mcpAud), http.MethodGet, tt.path, nil, nil)
			if tt.want == "" {
				require.ErrorIs(t, err, proxy.ErrBadPath)
				require.Zero(t, be.calls.Load(), "nothing may be sent")
				return
			}
			require.NoError(t, err)
			_, got := be.last()
			require.Equal(t, tt.want, got)
		})
	}
}

func TestClientBaseWithoutTrailingSlash(t *testing.T) {
	be := newBackend(t, nil)
	for base, want := range map[string]string{
		be.srv.URL:            "/deals",
		be.srv.URL + "/":      "/deals",
		be.srv.URL + "/api":   "/api/deals",
		be.srv.URL + "/a%20b": "/a%20b/deals",
	} {
		c := forwardClient(t, base, nil)
		require.NoError(t, c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "deals", nil, nil))
		_, got := be.last()
		require.Equal(t, want, got, base)
	}
}

func TestClientDoesNotFollowRedirects(t *testing.T) {
	elsewhere := newBackend(t, nil)
	be := newBackend(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.srv.URL+"/steal", http.StatusFound)
	})
	for name, hc := range map[string]*http.Client{"default client": nil, "given client": {}} {
		t.Run(name, func(t *testing.T) {
			c := forwardClient(t, be.srv.URL, func(c *proxy.Config) { c.HTTPClient = hc })
			err := c.Do(context.Background(), withAud(mcpAud), http.MethodGet, "x", nil, nil)
			var pe *proxy.Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, http.StatusFound, pe.Status)
			require.Zero(t, elsewhere.calls.Load())
		})
	}
}

func TestNewConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     proxy.Config
		wantErr string
	}{
		{"valid", proxy.Config{BaseURL: "https://crm.internal/api/", Credential: proxy.Forward("crm")}, ""},
		{"typed nil credential", proxy.Config{BaseURL: "https://crm.internal/api/", Credential: (*proxy.Signer)(nil)}, "Credential is required"},
		{"user agent with CRLF", proxy.Config{BaseURL: "https://crm.internal/api/", Credential: proxy.Forward("crm"), UserAgent: "gw\r\nX-Evil: 1"}, "UserAgent has a control character"},
		{"user agent with a tab and non-ASCII", proxy.Config{BaseURL: "https://crm.internal/api/", Credential: proxy.Forward("crm"), UserAgent: "gw\t1.0 é"}, ""},
		{"http refused", proxy.Config{BaseURL: "http://crm:8080", Credential: proxy.Forward("crm")}, "must use https"},
		{"http allowed insecurely", proxy.Config{BaseURL: "http://crm:8080", Credential: proxy.Forward("crm"), InsecureAllowHTTP: true}, ""},
		{"http on loopback", proxy.Config{BaseURL: "http://127.0.0.1:8080/api/", Credential: proxy.Forward("crm")}, ""},
		{"http on localhost", proxy.Config{BaseURL: "http://localhost:8080/api/", Credential: proxy.Forward("crm")}, ""},
		{"no base", proxy.Config{Credential: proxy.Forward("crm")}, "BaseURL is empty"},
		{"relative base", proxy.Config{BaseURL: "/api", Credential: proxy.Forward("crm")}, "must be an absolute http or https URL"},
		{"ftp base", proxy.Config{BaseURL: "ftp://crm/", Credential: proxy.Forward("crm")}, `scheme "ftp"`},
		{"user info", proxy.Config{BaseURL: "https://u:p@crm/", Credential: proxy.Forward("crm")}, "user info"},
		{"query", proxy.Config{BaseURL: "https://crm/?a=1", Credential: proxy.Forward("crm")}, "must not have a query"},
		{"fragment", proxy.Config{BaseURL: "https://crm/#x", Credential: proxy.Forward("crm")}, "fragment"},
		{"no credential", proxy.Config{BaseURL: "https://crm/"}, "Credential is required"},
		{"negative timeout", proxy.Config{BaseURL: "https://crm/", Credential: proxy.Forward("crm"), Timeout: -1}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := proxy.New(tt.cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestClientCredentialErrorNamesCall(t *testing.T) {
	be := newBackend(t, nil)
	c := forwardClient(t, be.srv.URL, nil)
	err := c.Do(context.Background(), withAud("https://other.example.com"), http.MethodDelete, "notes/1?x=secret", nil, nil)
	require.True(t, errors.Is(err, proxy.ErrAudienceMismatch))
	require.Equal(t, "proxy: DELETE "+be.srv.URL+"/notes/1: credential: backend is not an audience of the user's token", err.Error())
}

func TestCredentialFunc(t *testing.T) {
	apiKey := proxy.CredentialFunc(func(_ context.Context, req *http.Request, id *identity.Identity) error {
		if id == nil {
			return proxy.ErrNoIdentity
		}
		req.Header.Set("X-Api-Key", "k-"+id.Subject)
		return nil
	})
	be := newBackend(t, nil)
	c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: apiKey})
	require.NoError(t, err)

	require.NoError(t, c.Do(context.Background(), withAud(), http.MethodGet, "x", nil, nil))
	h, _ := be.last()
	require.Equal(t, "k-alice", h.Get("X-Api-Key"))
	require.Empty(t, h.Get("Authorization"))

	require.ErrorIs(t, c.Do(context.Background(), nil, http.MethodGet, "x", nil, nil), proxy.ErrNoIdentity)
	require.EqualValues(t, 1, be.calls.Load())
}

func TestClientDoUnencodableInput(t *testing.T) {
	be := newBackend(t, nil)
	c := forwardClient(t, be.srv.URL, nil)
	err := c.Do(context.Background(), withAud(mcpAud), http.MethodPost, "x?api_key=hush", make(chan int), nil)
	require.ErrorContains(t, err, "proxy: POST: encode request")
	require.NotContains(t, err.Error(), "hush")
	require.Zero(t, be.calls.Load())
}

// The default client keeps a connection per call in flight, up to 256 per
// backend: calls beyond net/http's default of 2 idle connections (or 32,
// before) are not closed after one call and dialled again for the next.
func TestDefaultClientKeepAlivePool(t *testing.T) {
	tr := proxy.DefaultTransport()
	require.Equal(t, 256, tr.MaxIdleConnsPerHost)
	require.Zero(t, tr.MaxIdleConns, "no total bound")
	require.False(t, tr.DisableKeepAlives)
}
