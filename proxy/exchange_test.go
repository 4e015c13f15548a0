package proxy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/proxy"
)

func newTestExchange(t *testing.T, tokenURL string, mod func(*proxy.ExchangeConfig)) *proxy.Exchange {
	t.Helper()
	cfg := proxy.ExchangeConfig{
		TokenURL:     tokenURL,
		ClientID:     "gateway",
		ClientSecret: "s3cret:&=",
		Audience:     "https://crm.example.com/api",
	}
	if mod != nil {
		mod(&cfg)
	}
	x, err := proxy.NewExchange(cfg)
	require.NoError(t, err)
	return x
}

func user(sub string) *identity.Identity {
	return identity.Identity{Subject: sub, Audience: []string{"https://mcp.example.com/mcp"}}.WithToken("token-of-" + sub)
}

func TestExchangeRequest(t *testing.T) {
	tests := []struct {
		name      string
		mod       func(*proxy.ExchangeConfig)
		wantForm  url.Values
		wantBasic [2]string
	}{
		{
			name: "basic auth, audience",
			wantForm: url.Values{
				"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
				"subject_token":        {"token-of-alice"},
				"subject_token_type":   {"urn:ietf:params:oauth:token-type:access_token"},
				"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
				"audience":             {"https://crm.example.com/api"},
			},
			wantBasic: [2]string{"gateway", "s3cret:&="},
		},
		{
			name: "credentials in body, resource and scopes",
			mod: func(c *proxy.ExchangeConfig) {
				c.AuthStyle = proxy.AuthStyleInBody
				c.Audience = ""
				c.Resource = "https://crm.example.com/api"
				c.Scopes = []string{"crm:read", "crm:write"}
			},
			wantForm: url.Values{
				"grant_type":           {"urn:ietf:params:oauth:grant-type:token-exchange"},
				"subject_token":        {"token-of-alice"},
				"subject_token_type":   {"urn:ietf:params:oauth:token-type:access_token"},
				"requested_token_type": {"urn:ietf:params:oauth:token-type:access_token"},
				"resource":             {"https://crm.example.com/api"},
				"scope":                {"crm:read crm:write"},
				"client_id":            {"gateway"},
				"client_secret":        {"s3cret:&="},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newFakeTokenEndpoint(t)
			be := newBackend(t, nil)
			x := newTestExchange(t, te.URL(), tt.mod)
			c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: x})
			require.NoError(t, err)

			require.NoError(t, c.Do(context.Background(), user("alice"), http.MethodGet, "deals", nil, nil))
			require.Equal(t, tt.wantForm, te.form())
			te.mu.Lock()
			require.Equal(t, tt.wantBasic, te.lastBasic)
			te.mu.Unlock()
			h, _ := be.last()
			require.Equal(t, "Bearer xt-1", h.Get("Authorization"), "the backend gets the exchanged token, not the user's")
		})
	}
}

func TestExchangeCache(t *testing.T) {
	te := newFakeTokenEndpoint(t)
	x := newTestExchange(t, te.URL(), nil) // MinTTL 30s; tokens live 300s
	clock := newFakeClock()
	x.SetClock(clock.Now)
	ctx := context.Background()

	steps := []struct {
		advance   time.Duration
		who       string
		wantToken string
		wantCalls int64
	}{
		{0, "alice", "xt-1", 1},
		{0, "alice", "xt-1", 1},                 // cached
		{0, "bob", "xt-2", 2},                   // another user, another token
		{269 * time.Second, "alice", "xt-1", 2}, // 31s left: still used
		{1 * time.Second, "alice", "xt-3", 3},   // 30s left: exchanged again
		{0, "alice", "xt-3", 3},                 // and the new one cached
		{0, "bob", "xt-4", 4},                   // bob's is as old as alice's was
		{10 * time.Minute, "carol", "xt-5", 5},  // everything expired meanwhile
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		tok, err := x.Token(ctx, user(s.who))
		require.NoError(t, err, "step %d", i)
		require.Equal(t, s.wantToken, tok, "step %d", i)
		require.Equal(t, s.wantCalls, te.calls.Load(), "step %d", i)
	}
}

// TestExchangeCacheEndsWithUserToken: an exchanged token is handed out
// from the cache no longer than the user's own token lives, however long
// the exchanged one does; past that, the token endpoint is asked again.
func TestExchangeCacheEndsWithUserToken(t *testing.T) {
	te := newFakeTokenEndpoint(t)
	te.expiresIn = 3600
	x := newTestExchange(t, te.URL(), nil)
	clock := newFakeClock()
	x.SetClock(clock.Now)
	id := identity.Identity{Subject: "alice", ExpiresAt: clock.Now().Add(time.Minute)}.WithToken("token-of-alice")
	ctx := context.Background()

	first, err := x.Token(ctx, id)
	require.NoError(t, err)
	clock.Advance(59 * time.Second)
	again, err := x.Token(ctx, id)
	require.NoError(t, err)
	require.Equal(t, first, again, "cached while the user's token lives")
	require.EqualValues(t, 1, te.calls.Load())

	clock.Advance(time.Second) // the user's token has expired
	later, err := x.Token(ctx, id)
	require.NoError(t, err, "the fake endpoint still exchanges it")
	require.NotEqual(t, first, later)
	require.EqualValues(t, 2, te.calls.Load(), "asked again")
	require.Zero(t, x.CacheLen(), "a token past the user's expiry is used once, not cached")
}

func TestExchangeLifetimes(t *testing.T) {
	tests := []struct {
		name       string
		expiresIn  any
		wantCached bool
	}{
		{"number", 300, true},
		{"quoted number", "300", true},
		{"fractional", 300.5, true},
		{"missing", nil, false},
		{"zero", 0, false},
		{"negative", -5, false},
		{"not above MinTTL", 30, false},
		{"garbage", "soon", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newFakeTokenEndpoint(t)
			te.expiresIn = tt.expiresIn
			x := newTestExchange(t, te.URL(), nil)

			first, err := x.Token(context.Background(), user("alice"))
			require.NoError(t, err)
			second, err := x.Token(context.Background(), user("alice"))
			require.NoError(t, err)
			if tt.wantCached {
				require.Equal(t, first, second)
				require.EqualValues(t, 1, te.calls.Load())
				require.Equal(t, 1, x.CacheLen())
			} else {
				require.NotEqual(t, first, second)
				require.EqualValues(t, 2, te.calls.Load())
				require.Zero(t, x.CacheLen())
			}
		})
	}
}

func TestExchangeCoalescesConcurrentMisses(t *testing.T) {
	te := newFakeTokenEndpoint(t)
	te.release = make(chan struct{})
	x := newTestExchange(t, te.URL(), nil)

	const n = 20
	var wg sync.WaitGroup
	tokens := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { tokens[i], errs[i] = x.Token(context.Background(), user("alice")) })
	}
	// Let the one exchange through only once it has started; every caller
	// is then either waiting on it or will find its result cached.
	<-te.started
	close(te.release)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, "xt-1", tokens[i])
	}
	require.EqualValues(t, 1, te.calls.Load())
}

func TestExchangeCallerGivesUp(t *testing.T) {
	te := newFakeTokenEndpoint(t)
	te.release = make(chan struct{})
	x := newTestExchange(t, te.URL(), nil)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := x.Token(ctx, user("alice")); done <- err }()
	<-te.started
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)

	// The exchange itself was not cancelled: once it ends, its token is
	// cached for the next caller.
	close(te.release)
	tok, err := x.Token(context.Background(), user("alice"))
	require.NoError(t, err)
	require.Equal(t, "xt-1", tok)
	require.EqualValues(t, 1, te.calls.Load())
}

func TestExchangeErrors(t *testing.T) {
	jsonAnswer := func(status int, body string) func(http.ResponseWriter, url.Values, int64) {
		return func(w http.ResponseWriter, form url.Values, _ int64) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(strings.ReplaceAll(body, "$SUBJECT", form.Get("subject_token"))))
		}
	}
	tests := []struct {
		name       string
		answer     func(http.ResponseWriter, url.Values, int64)
		wantStatus int
		wantCode   string
		wantDesc   string
		wantInner  error
	}{
		{
			name:       "invalid_grant",
			answer:     jsonAnswer(400, `{"error":"invalid_grant","error_description":"subject token expired"}`),
			wantStatus: 400, wantCode: "invalid_grant", wantDesc: "subject token expired",
		},
		{
			name:       "bad client",
			answer:     jsonAnswer(401, `{"error":"invalid_client"}`),
			wantStatus: 401, wantCode: "invalid_client",
		},
		{
			name:       "description echoes the subject token",
			answer:     jsonAnswer(400, `{"error":"invalid_request","error_description":"bad token $SUBJECT given"}`),
			wantStatus: 400, wantCode: "invalid_request", wantDesc: "bad token [redacted] given",
		},
		{
			name:       "error code echoing the subject token is dropped",
			answer:     jsonAnswer(400, `{"error":"invalid_grant $SUBJECT","error_description":"no"}`),
			wantStatus: 400, wantDesc: "no",
		},
		{
			name:       "error code that is no registered code is dropped",
			answer:     jsonAnswer(400, `{"error":"token-of-alice"}`),
			wantStatus: 400,
		},
		{
			name:       "RFC 8693 code",
			answer:     jsonAnswer(400, `{"error":"invalid_target"}`),
			wantStatus: 400, wantCode: "invalid_target",
		},
		{
			name:       "description echoes the client secret",
			answer:     jsonAnswer(401, `{"error":"invalid_client","error_description":"secret s3cret:&= is wrong"}`),
			wantStatus: 401, wantCode: "invalid_client", wantDesc: "secret [redacted] is wrong",
		},
		{
			name:       "error code with forbidden characters is dropped",
			answer:     jsonAnswer(400, `{"error":"bad\"code\n"}`),
			wantStatus: 400,
		},
		{
			name: "html 500",
			answer: func(w http.ResponseWriter, _ url.Values, _ int64) {
				http.Error(w, "<html>oops</html>", http.StatusInternalServerError)
			},
			wantStatus: 500,
		},
		{
			name:       "no access_token",
			answer:     jsonAnswer(200, `{"token_type":"Bearer","expires_in":300}`),
			wantStatus: 200,
		},
		{
			name:       "not a bearer token",
			answer:     jsonAnswer(200, `{"access_token":"abc","token_type":"DPoP","expires_in":300}`),
			wantStatus: 200,
		},
		{
			name:       "token with a line break",
			answer:     jsonAnswer(200, `{"access_token":"abc\r\nX-Evil: 1","token_type":"Bearer","expires_in":300}`),
			wantStatus: 200,
		},
		{
			name:       "not json",
			answer:     func(w http.ResponseWriter, _ url.Values, _ int64) { _, _ = w.Write([]byte("access_token=abc")) },
			wantStatus: 200,
		},
		{
			name: "too large",
			answer: func(w http.ResponseWriter, _ url.Values, _ int64) {
				_, _ = w.Write([]byte(`{"access_token":"` + strings.Repeat("a", 70<<10) + `"}`))
			},
			wantStatus: 200, wantInner: proxy.ErrResponseTooLarge,
		},
		{
			name: "redirect is not followed",
			answer: func(w http.ResponseWriter, _ url.Values, _ int64) {
				http.Redirect(w, &http.Request{Method: http.MethodPost}, "https://elsewhere.example/token", http.StatusTemporaryRedirect)
			},
			wantStatus: http.StatusTemporaryRedirect,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := newFakeTokenEndpoint(t)
			te.answer = tt.answer
			be := newBackend(t, nil)
			x := newTestExchange(t, te.URL(), nil)
			c, err := proxy.New(proxy.Config{BaseURL: be.srv.URL, Credential: x})
			require.NoError(t, err)

			err = c.Do(context.Background(), user("alice"), http.MethodGet, "deals", nil, nil)
			require.ErrorIs(t, err, proxy.ErrExchangeFailed)
			var xe *proxy.ExchangeError
			require.ErrorAs(t, err, &xe)
			require.Equal(t, tt.wantStatus, xe.Status)
			require.Equal(t, tt.wantCode, xe.Code)
			require.Equal(t, tt.wantDesc, xe.Description)
			if tt.wantInner != nil {
				require.ErrorIs(t, err, tt.wantInner)
			}
			require.NotContains(t, err.Error(), "token-of-alice")
			require.NotContains(t, err.Error(), "s3cret")
			require.Zero(t, be.calls.Load(), "no request may reach the backend")
			require.Zero(t, x.CacheLen(), "failures are not cached")
		})
	}
}

func TestExchangeUnreachable(t *testing.T) {
	te := newFakeTokenEndpoint(t)
	url := te.URL()
	te.srv.Close()
	x := newTestExchange(t, url, nil)

	_, err := x.Token(context.Background(), user("alice"))
	require.ErrorIs(t, err, proxy.ErrExchangeFailed)
	var xe *proxy.ExchangeError
	require.ErrorAs(t, err, &xe)
	require.Zero(t, xe.Status)
	require.Error(t, xe.Err)
	require.NotContains(t, err.Error(), "token-of-alice")
}

func TestExchangeTimeout(t *testing.T) {
	te := newFakeTokenEndpoint(t)
	te.release = make(chan struct{})
	t.Cleanup(func() { close(te.release) })
	x := newTestExchange(t, te.URL(), func(c *proxy.ExchangeConfig) { c.Timeout = 50 * time.Millisecond })

	_, err := x.Token(context.Background(), user("alice"))
	require.ErrorIs(t, err, proxy.ErrExchangeFailed)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestExchangeNeedsIdentity(t *testing.T) {
	te := newFakeTokenEndpoint(t)
	x := newTestExchange(t, te.URL(), nil)
	_, err := x.Token(context.Background(), nil)
	require.ErrorIs(t, err, proxy.ErrNoIdentity)
	_, err = x.Token(context.Background(), &identity.Identity{Subject: "alice"})
	require.ErrorIs(t, err, proxy.ErrNoToken)
	require.Zero(t, te.calls.Load())
}

func TestNewExchangeConfig(t *testing.T) {
	ok := proxy.ExchangeConfig{TokenURL: "https://idp.example.com/oauth/token", ClientID: "gw", Audience: "crm"}
	tests := []struct {
		name    string
		mod     func(*proxy.ExchangeConfig)
		wantErr string // "" means valid
	}{
		{"valid", func(*proxy.ExchangeConfig) {}, ""},
		{"loopback http", func(c *proxy.ExchangeConfig) { c.TokenURL = "http://127.0.0.1:8080/token" }, ""},
		{"localhost http", func(c *proxy.ExchangeConfig) { c.TokenURL = "http://localhost:8080/token" }, ""},
		{"insecure http allowed", func(c *proxy.ExchangeConfig) { c.TokenURL = "http://idp:8080/token"; c.InsecureAllowHTTP = true }, ""},
		{"resource only", func(c *proxy.ExchangeConfig) { c.Audience = ""; c.Resource = "https://crm.example.com/" }, ""},
		{"no token url", func(c *proxy.ExchangeConfig) { c.TokenURL = "" }, "TokenURL is empty"},
		{"relative token url", func(c *proxy.ExchangeConfig) { c.TokenURL = "/token" }, "TokenURL must be an absolute http or https URL"},
		{"plain http", func(c *proxy.ExchangeConfig) { c.TokenURL = "http://idp.example.com/token" }, "must use https"},
		{"user info", func(c *proxy.ExchangeConfig) { c.TokenURL = "https://a:b@idp.example.com/token" }, "user info"},
		{"no client", func(c *proxy.ExchangeConfig) { c.ClientID = "" }, "ClientID is required"},
		{"no audience", func(c *proxy.ExchangeConfig) { c.Audience = "" }, "needs Audience or Resource"},
		{"relative resource", func(c *proxy.ExchangeConfig) { c.Resource = "crm" }, "Resource must be an absolute URI"},
		{"bad scope", func(c *proxy.ExchangeConfig) { c.Scopes = []string{"a b"} }, "invalid scope"},
		{"non-ASCII scope", func(c *proxy.ExchangeConfig) { c.Scopes = []string{"é"} }, "invalid scope"},
		{"unknown auth style", func(c *proxy.ExchangeConfig) { c.AuthStyle = 7 }, "AuthStyle 7 is unknown"},
		{"negative ttl", func(c *proxy.ExchangeConfig) { c.MinTTL = -time.Second }, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			x, err := proxy.NewExchange(cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, x)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestExchangeCacheBound(t *testing.T) {
	te := newFakeTokenEndpoint(t)
	x := newTestExchange(t, te.URL(), func(c *proxy.ExchangeConfig) { c.CacheSize = 3 })
	for i := range 10 {
		_, err := x.Token(context.Background(), user(fmt.Sprint("user", i)))
		require.NoError(t, err)
		require.LessOrEqual(t, x.CacheLen(), 3)
	}
	require.Equal(t, 3, x.CacheLen())
}

func TestExchangeErrorText(t *testing.T) {
	tests := []struct {
		err  *proxy.ExchangeError
		want string
	}{
		{&proxy.ExchangeError{Status: 400, Code: "invalid_grant", Description: "expired"}, "token exchange failed: status 400: invalid_grant: expired"},
		{&proxy.ExchangeError{Status: 502}, "token exchange failed: status 502"},
		{&proxy.ExchangeError{Err: context.DeadlineExceeded}, "token exchange failed: context deadline exceeded"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.err.Error())
		require.ErrorIs(t, tt.err, proxy.ErrExchangeFailed)
	}
}
