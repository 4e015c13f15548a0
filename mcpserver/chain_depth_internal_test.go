package mcpserver

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// maxChainFrames is how many frames the MCP endpoint's chain may put
// between net/http's handler and go-sdk. go-sdk decodes a request on the
// connection's goroutine below them, and with one middleware per check
// (22 frames, ~2.1 KiB of stack) that goroutine's stack outgrew its first
// 8 KiB on every tools/call, to be copied again after each GC had shrunk
// it; with 14 (~1.2 KiB) it stays within them.
const maxChainFrames = 14

// TestChainDepth holds the chain to maxChainFrames: the checks before
// authentication run in one handler, as do the per-user limit and the
// step-up check.
func TestChainDepth(t *testing.T) {
	tests := []struct {
		name  string
		grant []string
	}{
		{"allowed call", []string{"echo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			frames := -1
			sink := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				pcs := make([]uintptr, 128)
				n := runtime.Callers(2, pcs) // from the sink's caller
				fs := runtime.CallersFrames(pcs[:n])
				for i := 0; ; i++ {
					f, more := fs.Next()
					if strings.HasPrefix(f.Function, "net/http.(*ServeMux).ServeHTTP") {
						frames = i
						break
					}
					if !more {
						break
					}
				}
				w.WriteHeader(http.StatusNoContent)
			})
			h, newReq := benchChain(t, sink, tc.grant)
			mux := http.NewServeMux()
			mux.Handle("/mcp", h)
			srv := httptest.NewServer(mux)
			defer srv.Close()

			r := newReq()
			req, err := http.NewRequest(http.MethodPost, srv.URL+"/mcp", r.Body)
			require.NoError(t, err)
			req.Header = r.Header
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			require.Positive(t, frames, "the sink did not see net/http's ServeMux above it")
			require.LessOrEqual(t, frames, maxChainFrames)
		})
	}
}
