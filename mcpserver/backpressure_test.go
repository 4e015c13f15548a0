package mcpserver_test

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// TestCallStreamBackpressure: what a call's handler sends while its client
// does not read the stream waits for the client, as on go-sdk's transport,
// instead of piling up in the server's memory. The call here is answered
// by the direct transport without being dispatched (a receiving
// middleware of the program's own turns dispatching off), so its messages
// go through the call's queue.
func TestCallStreamBackpressure(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []envOption
	}{
		{"direct", nil},
		{"stateless-direct", []envOption{stateless}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const n, size = 8000, 4 << 10 // 32 MiB of log notifications
			e := newEnv(t, tc.opts...)
			e.srv.MCPServer().AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
				return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
					return next(ctx, method, req) // a metrics or tracing middleware, say
				}
			})
			finished := make(chan struct{})
			msg := strings.Repeat("x", size)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "chatty", Description: "logs a lot"}, scopes.Public(),
				func(ctx context.Context, req *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
					defer close(finished)
					for range n {
						//lint:ignore SA1019 logging is deprecated by 2026-07-28 but served to older clients; it is the simplest message related to a call
						if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Data: msg}); err != nil {
							break
						}
					}
					return nil, summaryOut{Total: n}, nil
				})
			hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})
			if tc.name == "direct" {
				hdr = with(hdr, []string{"Mcp-Session-Id", e.session(e.alice)})
				r := e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"debug"}}`, hdr...)
				require.Equal(t, http.StatusOK, r.Status, r.Body)
			} else {
				e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{}}}`, hdr...)
			}

			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			req, err := http.NewRequest(http.MethodPost, e.http.URL+"/mcp", strings.NewReader(callBody(3, "chatty")))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			for i := 0; i < len(hdr); i += 2 {
				req.Header.Set(hdr[i], hdr[i+1])
			}
			resp, err := e.http.Client().Do(req) // the body is not read yet
			require.NoError(t, err)
			defer resp.Body.Close()
			select {
			case <-finished:
				t.Error("the handler sent 32 MiB to a client that read nothing")
			case <-time.After(2 * time.Second):
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			grown := int64(m1.HeapInuse) - int64(m0.HeapInuse)
			require.Less(t, grown, int64(16<<20), "%d MiB held for a client that reads nothing", grown>>20)

			// Once the client reads, everything arrives.
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			<-finished
			require.Equal(t, n, strings.Count(string(body), `"method":"notifications/message"`))
			require.Contains(t, string(body), `"total":8000`)
		})
	}
}
