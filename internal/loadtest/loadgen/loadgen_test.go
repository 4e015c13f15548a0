package loadgen_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/internal/loadtest/echo"
	"github.com/idgate/idgate/internal/loadtest/loadgen"
)

// sessions counts the sessions a go-sdk handler opened and closed.
type sessions struct {
	mu             sync.Mutex
	opened, closed int
}

// mcpServer serves the echo tool with go-sdk over real HTTP, counting the
// sessions opened (initialize) and deleted.
func mcpServer(t *testing.T, opts *mcp.StreamableHTTPOptions, wantToken string) (*httptest.Server, *sessions) {
	t.Helper()
	s := mcp.NewServer(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	mcp.AddTool(s, echo.Tool(), echo.Handler)
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, opts)
	var n sessions
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wantToken != "" && r.Header.Get("Authorization") != "Bearer "+wantToken {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		n.mu.Lock()
		switch {
		case r.Method == http.MethodDelete:
			n.closed++
		case r.Header.Get("Mcp-Session-Id") == "" && !opts.Stateless:
			n.opened++
		}
		n.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs, &n
}

// floorServer answers every JSON-RPC request with a fixed result and a
// Content-Length, notifications with 202.
func floorServer(t *testing.T) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct {
			ID json.RawMessage `json:"id"`
		}
		if json.NewDecoder(r.Body).Decode(&m) != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		if m.ID == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"jsonrpc":"2.0","id":` + string(m.ID) + `,"result":{"content":[]}}`))
	}))
	t.Cleanup(hs.Close)
	return hs
}

func addr(hs *httptest.Server) string { return strings.TrimPrefix(hs.URL, "http://") }

// Run opens a session per connection, calls echo until the window has
// the requested number of calls, and ends its sessions; over SSE
// (chunked), JSON, stateless, and a plain handler with Content-Length.
func TestRun(t *testing.T) {
	const conns, calls = 4, 60
	tests := []struct {
		name         string
		server       func(t *testing.T) (*httptest.Server, *sessions)
		wantSessions bool
		version      string
	}{
		{"go-sdk stateful SSE", func(t *testing.T) (*httptest.Server, *sessions) {
			return mcpServer(t, &mcp.StreamableHTTPOptions{}, "tok")
		}, true, ""},
		{"go-sdk stateful JSON", func(t *testing.T) (*httptest.Server, *sessions) {
			return mcpServer(t, &mcp.StreamableHTTPOptions{JSONResponse: true}, "tok")
		}, true, ""},
		{"go-sdk stateless", func(t *testing.T) (*httptest.Server, *sessions) {
			return mcpServer(t, &mcp.StreamableHTTPOptions{Stateless: true}, "tok")
		}, false, ""},
		{"plain handler", func(t *testing.T) (*httptest.Server, *sessions) { return floorServer(t), nil }, false, ""},
		// go-sdk checks SEP-2575's _meta and the Mcp-Method and Mcp-Name
		// headers of every call at 2026-07-28, and refuses initialize.
		{"go-sdk stateless 2026-07-28", func(t *testing.T) (*httptest.Server, *sessions) {
			return mcpServer(t, &mcp.StreamableHTTPOptions{Stateless: true}, "tok")
		}, false, loadgen.ProtocolVersionStateless},
		{"go-sdk stateless JSON 2026-07-28", func(t *testing.T) (*httptest.Server, *sessions) {
			return mcpServer(t, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true}, "tok")
		}, false, loadgen.ProtocolVersionStateless},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs, n := tt.server(t)
			var windows []bool
			res, err := loadgen.Run(context.Background(), loadgen.Config{
				Addr:        addr(hs),
				Tokens:      []string{"tok"},
				Connections: conns,
				Warmup:      -1,
				Duration:    time.Minute, // a bound; the window closes after calls
				Requests:    calls,
				OnWindow:    func(open bool) { windows = append(windows, open) },
				// Default (2025-06-18) when empty.
				ProtocolVersion: tt.version,
			})
			require.NoError(t, err)
			require.NoError(t, res.FirstError)
			require.Zero(t, res.Errors)
			require.Equal(t, conns, res.Sessions)
			require.GreaterOrEqual(t, res.Requests, calls)
			require.Len(t, res.Latencies, res.Requests)
			require.Positive(t, res.Throughput())
			require.LessOrEqual(t, res.Percentile(0.5), res.Percentile(0.99))
			require.Equal(t, []bool{true, false}, windows)
			if tt.wantSessions {
				n.mu.Lock()
				defer n.mu.Unlock()
				require.Equal(t, conns, n.opened)
				require.Equal(t, conns, n.closed, "every session is deleted at the end")
			}
		})
	}
}

// A server that refuses the session fails the run, saying why.
func TestRunRefused(t *testing.T) {
	hs, _ := mcpServer(t, &mcp.StreamableHTTPOptions{}, "right")
	_, err := loadgen.Run(context.Background(), loadgen.Config{
		Addr: addr(hs), Tokens: []string{"wrong"}, Connections: 2, Warmup: -1, Duration: time.Minute, Requests: 1,
	})
	require.ErrorContains(t, err, "initialize: status 401")
}

func TestPercentile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var out []time.Duration
		for _, v := range n {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		name string
		lat  []time.Duration
		q    float64
		want time.Duration
	}{
		{"none", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of four", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99 of a hundred", ms(func() []int {
			var v []int
			for i := 1; i <= 100; i++ {
				v = append(v, i)
			}
			return v
		}()...), 0.99, 99 * time.Millisecond},
		{"max", ms(1, 2, 3), 1, 3 * time.Millisecond},
		{"min", ms(1, 2, 3), 0, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, loadgen.Result{Latencies: tt.lat}.Percentile(tt.q))
		})
	}
}
