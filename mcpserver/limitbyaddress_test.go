package mcpserver_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/mcpserver"
)

// ownRoute serves the server's handler and, at /own, a route of the
// caller's own wrapped in LimitByAddress (with refuse) behind an audit
// middleware; it returns the env, how many requests reached the route, and
// the route's audit log.
func ownRoute(t *testing.T, refuse func(http.ResponseWriter, *http.Request, int), opts ...envOption) (*env, *atomic.Int32, *logBuffer) {
	t.Helper()
	e := newEnv(t, append([]envOption{stateless}, opts...)...)
	logs := &logBuffer{}
	aud, err := audit.New(audit.Config{Logger: slog.New(slog.NewJSONHandler(logs, nil)), SubjectKey: []byte("0123456789abcdef0123456789abcdef")})
	require.NoError(t, err)
	var reached atomic.Int32
	mux := http.NewServeMux()
	mux.Handle("/", e.srv.Handler())
	mux.Handle("/own", aud.Middleware(e.srv.LimitByAddress(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}), refuse)))
	own := serve(t, mux)
	own.iss, own.srv, own.alice, own.logs = e.iss, e.srv, e.alice, e.logs
	return own, &reached, logs
}

// LimitByAddress applies the MCP endpoint's per-address limit to a route
// of one's own, with the same counter: an address has one budget.
func TestLimitByAddress(t *testing.T) {
	e, reached, logs := ownRoute(t, nil, func(c *mcpserver.Config) {
		c.RateLimit.IP = mcpserver.Limit{Rate: 3, Period: time.Hour}
	})
	require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/mcp", initializeBody).Status)
	for i := range 2 {
		r := e.do(http.MethodPost, "/own", "{}")
		require.Equal(t, http.StatusNoContent, r.Status)
		require.Equal(t, "3;w=3600", r.Header.Get("RateLimit-Policy"))
		require.Regexp(t, `^limit=3, remaining=`+[]string{"1", "0"}[i]+`, reset=\d+$`, r.Header.Get("RateLimit"))
	}
	r := e.do(http.MethodPost, "/own", "{}")
	require.Equal(t, http.StatusTooManyRequests, r.Status)
	require.JSONEq(t, `{"error":"rate limit exceeded"}`, r.Body)
	require.NotEmpty(t, r.Header.Get("Retry-After"))
	require.Equal(t, int32(2), reached.Load(), "the refused request never reached the route")
	// The MCP endpoint shares the budget, now spent.
	require.Equal(t, http.StatusTooManyRequests, e.do(http.MethodPost, "/mcp", initializeBody).Status)

	events := logs.events(t)
	require.Len(t, events, 3)
	require.Equal(t, "rate_limited", events[2]["decision"])
	require.Equal(t, "ip_rate_limited", events[2]["reason"])
	require.Equal(t, float64(429), events[2]["status"])
}

// xffStep is a request with an X-Forwarded-For header and the status it
// must get.
type xffStep struct {
	xff        string
	wantStatus int
}

// The client address is the MCP endpoint's: X-Forwarded-For only from a
// trusted proxy, an IPv6 client counted by its /64.
func TestLimitByAddressClientAddress(t *testing.T) {
	tests := []struct {
		name    string
		trusted []netip.Prefix
		steps   []xffStep
	}{
		{"X-Forwarded-For ignored by default", nil, []xffStep{
			{"203.0.113.1", http.StatusNoContent},
			{"198.51.100.7", http.StatusTooManyRequests}, // the same peer
		}},
		{"behind a trusted proxy", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, []xffStep{
			{"203.0.113.1", http.StatusNoContent},
			{"198.51.100.7, 127.0.0.1", http.StatusNoContent},
			{"203.0.113.1", http.StatusTooManyRequests},
			{"2001:db8:1:2::1", http.StatusNoContent},
			{"2001:db8:1:2:ffff::9", http.StatusTooManyRequests}, // same /64
			{"2001:db8:1:3::1", http.StatusNoContent},            // next /64
			// Entries with a port, as some proxies write them, are the
			// same clients.
			{"203.0.113.1:4711", http.StatusTooManyRequests},
			{"[2001:db8:1:3::1]:4711", http.StatusTooManyRequests},
			{"192.0.2.9:80, 127.0.0.1:5000", http.StatusNoContent},
			{"192.0.2.9", http.StatusTooManyRequests},
			// Garbage ends the scan: the peer (the proxy) counts.
			{"192.0.2.77, nonsense", http.StatusNoContent},
			{"192.0.2.78, nonsense", http.StatusTooManyRequests},
		}},
		{"several header lines", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, []xffStep{
			{"198.51.100.1\n198.51.100.2", http.StatusNoContent}, // the last line's entry counts
			{"198.51.100.2", http.StatusTooManyRequests},
			{"198.51.100.3\n127.0.0.1, 127.0.0.2", http.StatusNoContent}, // past the proxies, into the line before
			{"198.51.100.3", http.StatusTooManyRequests},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, _, _ := ownRoute(t, nil, func(c *mcpserver.Config) {
				c.RateLimit.IP = mcpserver.Limit{Rate: 1, Period: time.Hour}
				c.RateLimit.TrustedProxies = tc.trusted
			})
			for _, st := range tc.steps {
				var h []string // one X-Forwarded-For line per line of xff
				for _, line := range strings.Split(st.xff, "\n") {
					h = append(h, "X-Forwarded-For", line)
				}
				r := e.do(http.MethodPost, "/own", "{}", h...)
				require.Equal(t, st.wantStatus, r.Status, st.xff)
			}
		})
	}
}

// With rate limiting disabled, LimitByAddress changes nothing; with a
// failing store it fails closed unless FailOpen.
func TestLimitByAddressDisabledAndStoreFailure(t *testing.T) {
	tests := []struct {
		name       string
		rl         mcpserver.RateLimitConfig
		wantStatus int
	}{
		{"disabled", mcpserver.RateLimitConfig{Disabled: true, IP: mcpserver.Limit{Rate: 1}}, http.StatusNoContent},
		{"store down, fail closed", mcpserver.RateLimitConfig{Store: failingStore{}}, http.StatusServiceUnavailable},
		{"store down, fail open", mcpserver.RateLimitConfig{Store: failingStore{}, FailOpen: true}, http.StatusNoContent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, reached, _ := ownRoute(t, nil, func(c *mcpserver.Config) { c.RateLimit = tc.rl })
			for range 3 {
				r := e.do(http.MethodPost, "/own", "{}")
				require.Equal(t, tc.wantStatus, r.Status)
				require.Empty(t, r.Header.Get("RateLimit"))
			}
			want := int32(3)
			if tc.wantStatus != http.StatusNoContent {
				want = 0
			}
			require.Equal(t, want, reached.Load())
		})
	}
}

// A route answers refusals in its own format: refuse writes the body, the
// headers already set.
func TestLimitByAddressOwnRefusal(t *testing.T) {
	tests := []struct {
		name       string
		rl         mcpserver.RateLimitConfig
		wantStatus int
	}{
		{"over the limit", mcpserver.RateLimitConfig{IP: mcpserver.Limit{Rate: 1, Period: time.Hour}}, http.StatusTooManyRequests},
		{"store down", mcpserver.RateLimitConfig{Store: failingStore{}}, http.StatusServiceUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			refuse := func(w http.ResponseWriter, _ *http.Request, status int) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(status)
				fmt.Fprintf(w, `{"ok":false,"error":{"code":"LIMITED","status":%d}}`, status)
			}
			e, reached, _ := ownRoute(t, refuse, func(c *mcpserver.Config) { c.RateLimit = tc.rl })
			r := e.do(http.MethodPost, "/own", "{}")
			if tc.wantStatus == http.StatusTooManyRequests {
				require.Equal(t, http.StatusNoContent, r.Status)
				r = e.do(http.MethodPost, "/own", "{}")
				require.Equal(t, "1;w=3600", r.Header.Get("RateLimit-Policy"))
			}
			require.Equal(t, tc.wantStatus, r.Status)
			require.JSONEq(t, fmt.Sprintf(`{"ok":false,"error":{"code":"LIMITED","status":%d}}`, tc.wantStatus), r.Body)
			require.NotEmpty(t, r.Header.Get("Retry-After"))
			require.LessOrEqual(t, reached.Load(), int32(1))
		})
	}
}
