package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity/identitytest"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// auditCase is a request of TestAuditEveryPath and the event it must
// produce.
type auditCase struct {
	name         string
	method, body string
	headers      []string
	wantStatus   int
	wantDecision string
	wantReason   string
	wantTool     string
	wantArgs     string // JSON of the args attribute; "" none
}

// Every path a request can take produces one audit event with the right
// decision and reason (SPEC 26: and no token anywhere).
func TestAuditEveryPath(t *testing.T) {
	modes(t, func(t *testing.T, opts ...envOption) {
		e := newEnv(t, append(opts, func(c *mcpserver.Config) {
			c.RateLimit.User = mcpserver.Limit{Rate: 20, Period: time.Hour}
			c.MaxBodyBytes = 4096
		})...)
		limited := e.iss.Mint(t, identitytest.Subject("dave"), identitytest.Scopes("crm:read"))
		expired := e.iss.Mint(t, identitytest.Subject("alice"), identitytest.ExpiresAt(time.Now().Add(-time.Hour)))
		proto := []string{"Mcp-Protocol-Version", "2025-06-18"}
		session := func(tok string) []string {
			if strings.HasSuffix(t.Name(), "/stateful") {
				return []string{"Mcp-Session-Id", e.session(tok)}
			}
			return nil
		}
		aliceHdr := with(bearer(e.alice), proto, session(e.alice))
		bobHdr := with(bearer(e.bob), proto, session(e.bob))

		tests := []auditCase{
			{"no token", http.MethodPost, initializeBody, nil, 401, "deny", "missing_token", "", ""},
			{"bad token", http.MethodPost, initializeBody, bearer(expired), 401, "deny", "invalid_token", "", ""},
			{"malformed request", http.MethodPost, initializeBody, []string{"Authorization", "Bearer a b"}, 400, "deny", "invalid_request", "", ""},
			{"query token", http.MethodGet, "", nil, 400, "deny", "invalid_request", "", ""},
			{"insufficient scope", http.MethodPost, callBody(2, "salesWrite"), bobHdr, 403, "deny", "insufficient_scope", "salesWrite", ""},
			{"disallowed origin", http.MethodPost, initializeBody, with(bearer(e.alice), []string{"Origin", "https://evil.example"}), 403, "deny", "origin", "", ""},
			{"body too large", http.MethodPost, `{"pad":"` + strings.Repeat("x", 5000) + `"}`, bearer(e.alice), 413, "deny", "body_too_large", "", ""},
			{"tool error", http.MethodPost, callBody(3, "fail"), aliceHdr, 200, "error", "tool_error", "fail", ""},
			{"success", http.MethodPost, callBody(4, "salesRead"), aliceHdr, 200, "allow", "", "salesRead", ""},
			{"success with audited, redacted args", http.MethodPost,
				`{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"salesWrite","arguments":{"account":"acme","secret":"hunter2"}}}`,
				aliceHdr, 200, "allow", "", "salesWrite", `{"account":"acme","secret":"[masked]"}`},
			{"unknown tool", http.MethodPost, callBody(6, "nope"), aliceHdr, 200, "deny", "unknown_tool", "nope", ""},
			{"rebound host", http.MethodPost, initializeBody, with(bearer(e.alice), []string{"Host", "evil.example"}), 403, "deny", "host", "", ""},
			{"request go-sdk refuses", http.MethodPost, callBody(8, "whoami"), with(bearer(e.alice), []string{"Mcp-Protocol-Version", "1999-01-01"}), 400, "deny", "bad_request", "whoami", ""},
		}
		if strings.HasSuffix(t.Name(), "/stateful") {
			tests = append(tests,
				auditCase{"session of another user", http.MethodPost, callBody(7, "whoami"),
					with(bearer(e.bob), proto, []string{"Mcp-Session-Id", aliceHdr[len(aliceHdr)-1]}), 403, "deny", "session_user_mismatch", "whoami", ""},
				auditCase{"unknown session", http.MethodPost, callBody(9, "whoami"),
					with(bearer(e.alice), proto, []string{"Mcp-Session-Id", "no-such-session"}), 404, "deny", "unknown_session", "whoami", ""})
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				before := len(e.logs.events(t))
				path := "/mcp"
				if tc.name == "query token" {
					path += "?access_token=" + e.alice
				}
				r := e.do(tc.method, path, tc.body, tc.headers...)
				require.Equal(t, tc.wantStatus, r.Status, r.Body)
				events := e.logs.events(t)
				require.Len(t, events, before+1, "exactly one event per request")
				ev := events[before]
				require.Equal(t, tc.wantDecision, ev["decision"])
				require.Equal(t, tc.wantReason, stringOr(ev["reason"]))
				require.Equal(t, float64(tc.wantStatus), ev["status"])
				require.Equal(t, tc.wantTool, stringOr(ev["tool"]))
				require.NotEmpty(t, ev["request_id"])
				if tc.wantArgs == "" {
					require.NotContains(t, ev, "args")
				} else {
					require.Equal(t, tc.wantArgs, mustJSON(t, ev["args"]))
				}
			})
		}

		t.Run("rate limited", func(t *testing.T) {
			for range 20 {
				require.Equal(t, 200, e.do(http.MethodPost, "/mcp", initializeBody, bearer(limited)...).Status)
			}
			require.Equal(t, 429, e.do(http.MethodPost, "/mcp", initializeBody, bearer(limited)...).Status)
			events := e.logs.events(t)
			last := events[len(events)-1]
			require.Equal(t, "rate_limited", last["decision"])
			require.Equal(t, "user_rate_limited", last["reason"])
			require.Equal(t, float64(429), last["status"])
			require.NotEmpty(t, last["sub"], "the subject is known (hashed) when the user limit hits")
			require.NotContains(t, e.logs.String(), `"dave"`, "subjects are hashed")
		})

		// SPEC 26: no token in any log line or response body, whatever
		// happened above.
		for _, tok := range []string{e.alice, e.bob, expired, limited} {
			require.NotContains(t, e.logs.String(), tok)
			require.NotContains(t, e.bodies.String(), tok)
			// Not even the signature part on its own.
			sig := tok[strings.LastIndexByte(tok, '.')+1:]
			require.NotContains(t, e.logs.String(), sig)
			require.NotContains(t, e.bodies.String(), sig)
		}
		require.NotContains(t, e.logs.String(), "hunter2", "only redacted arguments are logged")
	})
}

func stringOr(v any) string {
	s, _ := v.(string)
	return s
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// audit.EntryFrom in a tool is the entry of the HTTP request that carried
// the call, on every path: what the tool records (here a refusal of its
// own) is in that request's event, not lost in the already written one
// of the request that opened the session.
func TestContextEntryIsTheCallers(t *testing.T) {
	for _, mode := range []struct {
		name     string
		stateful bool
		opts     []envOption
	}{
		{"stateful", true, nil},
		{"stateful, go-sdk transport", true, []envOption{goSDKTransport}},
		{"stateful JSON", true, []envOption{jsonResponse}},
		{"stateless", false, []envOption{stateless}},
		{"stateless JSON", false, []envOption{stateless, jsonResponse}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "refuser", Description: "refuses, in the audit trail"}, scopes.Public(),
				func(ctx context.Context, _ *mcp.CallToolRequest, _ empty) (*mcp.CallToolResult, summaryOut, error) {
					audit.EntryFrom(ctx).SetDecision(audit.Deny, "tool_refused")
					return nil, summaryOut{}, nil
				})
			hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})
			if mode.stateful {
				hdr = with(hdr, []string{"Mcp-Session-Id", e.session(e.alice)})
			}
			for i := range 3 { // the first call of a stateless server goes go-sdk's way, the next ones not
				before := len(e.logs.events(t))
				r := e.do(http.MethodPost, "/mcp", callBody(20+i, "refuser"), hdr...)
				require.Equal(t, http.StatusOK, r.Status, r.Body)
				events := e.logs.events(t)
				require.Len(t, events, before+1)
				ev := events[before]
				require.Equal(t, [3]string{"deny", "tool_refused", "refuser"},
					[3]string{stringOr(ev["decision"]), stringOr(ev["reason"]), stringOr(ev["tool"])}, "call %d", i)
			}
		})
	}
}

// A batch (protocol 2025-03-26) is one request and one event: it tells of
// the first call refused or failed, with that call's tool and reason,
// never of an allowed call over a refused one, nor the tool of one call
// with the reason of another.
func TestAuditBatch(t *testing.T) {
	for _, mode := range []struct {
		name     string
		stateful bool
		opts     []envOption
	}{
		{"stateful", true, nil},
		{"stateless", false, []envOption{stateless}},
		{"stateless JSON", false, []envOption{stateless, jsonResponse}},
		{"go-sdk transport", true, []envOption{goSDKTransport}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-03-26"})
			if mode.stateful {
				hdr = with(hdr, []string{"Mcp-Session-Id", e.session(e.alice)})
			}
			for i, tc := range []struct {
				calls []string
				want  [][3]string // any of these (decision, reason, tool): the calls run concurrently
			}{
				{[]string{"nope", "salesRead"}, [][3]string{{"deny", "unknown_tool", "nope"}}},
				{[]string{"salesRead", "nope"}, [][3]string{{"deny", "unknown_tool", "nope"}}},
				{[]string{"fail", "salesRead", "whoami"}, [][3]string{{"error", "tool_error", "fail"}}},
				{[]string{"nope", "fail", "salesRead"}, [][3]string{{"deny", "unknown_tool", "nope"}, {"error", "tool_error", "fail"}}},
				{[]string{"salesRead", "whoami"}, [][3]string{{"allow", "", "salesRead"}, {"allow", "", "whoami"}}},
			} {
				var msgs []string
				for j, name := range tc.calls {
					msgs = append(msgs, callBody(10*i+j, name))
				}
				before := len(e.logs.events(t))
				r := e.do(http.MethodPost, "/mcp", "["+strings.Join(msgs, ",")+"]", hdr...)
				require.Equal(t, http.StatusOK, r.Status, r.Body)
				want := before + 1 + len(tc.calls)
				require.Eventually(t, func() bool { return len(e.logs.events(t)) >= want }, 5*time.Second, 10*time.Millisecond)
				events := e.logs.events(t)
				require.Len(t, events, want, "one event for the request, one for each call")
				var batch map[string]any
				calls := map[string][3]string{}
				for _, ev := range events[before:] {
					require.Equal(t, r.Header.Get("X-Request-Id"), ev["request_id"], "every event names the request")
					if ev["status"] != float64(0) {
						require.Nil(t, batch, "one event for the request")
						batch = ev
						continue
					}
					require.Equal(t, "tools/call", ev["mcp_method"])
					require.NotEmpty(t, ev["sub"])
					calls[stringOr(ev["tool"])] = [3]string{stringOr(ev["decision"]), stringOr(ev["reason"]), stringOr(ev["tool"])}
				}
				require.NotNil(t, batch, "the request's own event")
				got := [3]string{stringOr(batch["decision"]), stringOr(batch["reason"]), stringOr(batch["tool"])}
				require.Contains(t, tc.want, got, "batch %v", tc.calls)
				wantCall := map[string][3]string{
					"nope": {"deny", "unknown_tool", "nope"}, "fail": {"error", "tool_error", "fail"},
					"salesRead": {"allow", "", "salesRead"}, "whoami": {"allow", "", "whoami"},
				}
				require.Len(t, calls, len(tc.calls))
				for _, name := range tc.calls {
					require.Equal(t, wantCall[name], calls[name], "call %s of batch %v", name, tc.calls)
				}
			}
		})
	}
}

// TestAuditBatchShowsEveryCall: a call of a batch is not hidden by
// another: salesWrite, a crm:write tool that audits its arguments, is in
// the audit log with them, whichever call of the batch finished last.
func TestAuditBatchShowsEveryCall(t *testing.T) {
	for _, mode := range []struct {
		name     string
		stateful bool
		opts     []envOption
	}{
		{"stateful", true, nil},
		{"stateless", false, []envOption{stateless}},
		{"go-sdk transport", true, []envOption{goSDKTransport}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "slowWhoami", Description: "slow"}, scopes.Public(),
				func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
					time.Sleep(100 * time.Millisecond) // ends after salesWrite
					return nil, nil, nil
				})
			hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-03-26"})
			if mode.stateful {
				hdr = with(hdr, []string{"Mcp-Session-Id", e.session(e.alice)})
			}
			before := len(e.logs.events(t))
			write := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"salesWrite","arguments":{"account":"acme","secret":"x"}}}`
			r := e.do(http.MethodPost, "/mcp", "["+write+","+callBody(2, "slowWhoami")+"]", hdr...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.Contains(t, r.Body, `"id":1,"result"`, "salesWrite ran")
			require.Eventually(t, func() bool { return len(e.logs.events(t)) >= before+3 }, 5*time.Second, 10*time.Millisecond)
			var write0 map[string]any
			for _, ev := range e.logs.events(t)[before:] {
				if ev["tool"] == "salesWrite" && ev["status"] == float64(0) {
					write0 = ev
				}
			}
			require.NotNil(t, write0, "salesWrite has an event of its own")
			require.Equal(t, "allow", write0["decision"], "%v", write0)
			require.Equal(t, map[string]any{"account": "acme", "secret": "[masked]"}, write0["args"], "its arguments, redacted by its hook")
		})
	}
}

// TestAuditCallThatNeverRan: a tools/call the scope check allowed but that
// go-sdk refused before any handler ran (params it cannot decode, answered
// with a JSON-RPC error in a 200) is not audited as allowed.
func TestAuditCallThatNeverRan(t *testing.T) {
	for _, mode := range []struct {
		name     string
		stateful bool
		opts     []envOption
	}{
		{"direct", true, nil},
		{"gosdk", true, []envOption{goSDKTransport}},
		{"stateless", false, []envOption{stateless}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})
			if mode.stateful {
				hdr = with(hdr, []string{"Mcp-Session-Id", e.session(e.alice)})
			}
			for _, body := range []string{
				`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":5,"name":"salesWrite","arguments":{"account":"a","secret":"s"}}}`,
				`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"salesWrite","arguments":{"account":"a","secret":"s"},"inputResponses":5}}`,
			} {
				before := len(e.logs.events(t))
				r := e.do(http.MethodPost, "/mcp", body, hdr...)
				require.Contains(t, r.Body, `"code":-32602`, "go-sdk refuses the call: invalid params")
				require.Eventually(t, func() bool { return len(e.logs.events(t)) > before }, 5*time.Second, 10*time.Millisecond)
				ev := e.logs.events(t)[before]
				require.Equal(t, "deny", ev["decision"], "%v", ev)
				require.Equal(t, "no_outcome", ev["reason"])
				require.Equal(t, "salesWrite", ev["tool"])
			}
			// A call that runs is audited as before.
			before := len(e.logs.events(t))
			r := e.do(http.MethodPost, "/mcp", `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"salesWrite","arguments":{"account":"a","secret":"s"}}}`, hdr...)
			require.Contains(t, r.Body, `"result"`)
			require.Eventually(t, func() bool { return len(e.logs.events(t)) > before }, 5*time.Second, 10*time.Millisecond)
			ev := e.logs.events(t)[before]
			require.Equal(t, "allow", ev["decision"], "%v", ev)
			require.Nil(t, ev["reason"])
		})
	}
}

// TestBatchCallsChargeUserLimit: each tools/call of a batch counts against
// the caller's rate limit, as a request of its own would: a batch cannot
// multiply the limit (it carries up to 1024 calls).
func TestBatchCallsChargeUserLimit(t *testing.T) {
	for _, mode := range []struct {
		name     string
		stateful bool
		opts     []envOption
	}{
		{"stateful", true, nil},
		{"stateless", false, []envOption{stateless}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, append(mode.opts, func(c *mcpserver.Config) { c.RateLimit.User = mcpserver.Limit{Rate: 6, Period: time.Hour} })...)
			var calls atomic.Int64
			mcpserver.AddTool(e.srv, &mcp.Tool{Name: "count", Description: "counts"}, scopes.Public(),
				func(context.Context, *mcp.CallToolRequest, empty) (*mcp.CallToolResult, any, error) {
					calls.Add(1)
					return nil, nil, nil
				})
			hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-03-26"})
			budget := 6
			if mode.stateful {
				hdr = with(hdr, []string{"Mcp-Session-Id", e.session(e.alice)}) // initialize and initialized: 2 of the 6
				budget -= 2
			}
			batch := func(n int) rawResponse {
				var msgs []string
				for i := range n {
					msgs = append(msgs, callBody(100+i, "count"))
				}
				return e.do(http.MethodPost, "/mcp", "["+strings.Join(msgs, ",")+"]", hdr...)
			}
			r := batch(budget - 1)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.EqualValues(t, budget-1, calls.Load())
			r = batch(2) // one unit left
			require.Equal(t, http.StatusTooManyRequests, r.Status, r.Body)
			require.EqualValues(t, budget-1, calls.Load(), "no call of a refused batch ran")
			r = batch(200)
			require.Equal(t, http.StatusTooManyRequests, r.Status, r.Body)
			require.EqualValues(t, budget-1, calls.Load())
		})
	}
}

// A caller chooses the tool name and the JSON-RPC method it sends: an
// audit event keeps only a bounded prefix of each, so that one request
// cannot write a megabyte into the audit log.
func TestAuditBoundsCallerChosenNames(t *testing.T) {
	e := newEnv(t, stateless)
	long := strings.Repeat("x", 100_000)
	hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})
	tests := []struct {
		name, body string
	}{
		{"long tool name", callBody(1, long)},
		{"long method", `{"jsonrpc":"2.0","id":1,"method":"` + long + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.logs.events(t))
			r := e.do(http.MethodPost, "/mcp", tc.body, hdr...)
			require.Less(t, r.Status, 500, r.Body)
			events := e.logs.events(t)
			require.Len(t, events, before+1)
			for _, attr := range []string{"tool", "mcp_method"} {
				v := stringOr(events[before][attr])
				require.LessOrEqual(t, len(v), 300, "%s is %d bytes", attr, len(v))
			}
			require.NotContains(t, e.logs.String(), long)
		})
	}
}

// TestAuditBatchCallThatNeverRan: a batch whose second call go-sdk
// refuses before any handler runs (params it cannot decode, a JSON-RPC
// error in the 200) has an event for that call too, and the request's
// event does not say the batch was allowed.
func TestAuditBatchCallThatNeverRan(t *testing.T) {
	for _, mode := range []struct {
		name     string
		stateful bool
		opts     []envOption
	}{
		{"stateful", true, nil},
		{"stateless", false, []envOption{stateless}},
		{"stateless JSON", false, []envOption{stateless, jsonResponse}},
		{"go-sdk transport", true, []envOption{goSDKTransport}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-03-26"})
			if mode.stateful {
				hdr = with(hdr, []string{"Mcp-Session-Id", e.session(e.alice)})
			}
			before := len(e.logs.events(t))
			bad := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"_meta":5,"name":"salesWrite","arguments":{"account":"a","secret":"s"}}}`
			r := e.do(http.MethodPost, "/mcp", "["+callBody(1, "salesRead")+","+bad+"]", hdr...)
			require.Equal(t, http.StatusOK, r.Status, r.Body)
			require.Contains(t, r.Body, `"code":-32602`, "go-sdk refuses the second call: invalid params")
			require.Eventually(t, func() bool { return len(e.logs.events(t)) >= before+3 }, 2*time.Second, 10*time.Millisecond,
				"one event for the request, one for each call: %v", e.logs.events(t)[before:])
			var req map[string]any
			var calls []map[string]any
			for _, ev := range e.logs.events(t)[before:] {
				if ev["status"] == float64(0) {
					calls = append(calls, ev)
				} else {
					require.Nil(t, req)
					req = ev
				}
			}
			require.Len(t, calls, 2)
			got := map[string][2]string{}
			for _, ev := range calls {
				got[stringOr(ev["tool"])] = [2]string{stringOr(ev["decision"]), stringOr(ev["reason"])}
			}
			require.Equal(t, map[string][2]string{"salesRead": {"allow", ""}, "salesWrite": {"deny", "no_outcome"}}, got)
			require.NotNil(t, req)
			require.Equal(t, [3]string{"deny", "no_outcome", "salesWrite"},
				[3]string{stringOr(req["decision"]), stringOr(req["reason"]), stringOr(req["tool"])}, "%v", req)
		})
	}
}

// TestAuditShutdownRefusal: a request refused because Shutdown has begun
// (503 before go-sdk sees it) is audited as that, not as an error of
// go-sdk's ("mcp_error").
func TestAuditShutdownRefusal(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []envOption
	}{
		{"stateful", nil},
		{"stateless", []envOption{stateless}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			e := newEnv(t, mode.opts...)
			require.NoError(t, e.srv.Shutdown(context.Background()))
			before := len(e.logs.events(t))
			r := e.do(http.MethodPost, "/mcp", callBody(1, "whoami"), with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-06-18"})...)
			require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Body)
			require.Eventually(t, func() bool { return len(e.logs.events(t)) > before }, 2*time.Second, 10*time.Millisecond)
			events := e.logs.events(t)
			require.Len(t, events, before+1)
			ev := events[before]
			require.Equal(t, [3]string{"error", "shutting_down", "503"},
				[3]string{stringOr(ev["decision"]), stringOr(ev["reason"]), fmt.Sprint(ev["status"])}, "%v", ev)
		})
	}
}

// TestAuditClientGoneMidBody: a client that closes its connection before
// it has sent the whole body is audited as gone, not as a request the
// server refused for a bad body; one that stalls until
// Config.BodyReadTimeout still is.
func TestAuditClientGoneMidBody(t *testing.T) {
	for _, tc := range []struct {
		name         string
		close        bool
		wantDecision [2]string
	}{
		{"client closes", true, [2]string{"error", "client_gone"}},
		{"body read timeout", false, [2]string{"deny", "bad_body"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// When the client closes, the read must end by that alone: the
			// timeout is far off (on a busy machine 100 ms could pass
			// before the body is read, and read as a timeout).
			timeout := 100 * time.Millisecond
			if tc.close {
				timeout = time.Minute
			}
			e := newEnv(t, func(c *mcpserver.Config) { c.BodyReadTimeout = timeout })
			before := len(e.logs.events(t))
			conn, err := net.Dial("tcp", e.http.Listener.Addr().String())
			require.NoError(t, err)
			defer conn.Close()
			_, err = io.WriteString(conn, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+e.alice+
				"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 1000\r\n\r\n"+
				`{"jsonrpc":"2.0","id":1,`)
			require.NoError(t, err)
			if tc.close {
				require.NoError(t, conn.Close())
			}
			require.Eventually(t, func() bool { return len(e.logs.events(t)) > before }, 5*time.Second, 10*time.Millisecond)
			events := e.logs.events(t)
			require.Len(t, events, before+1)
			ev := events[before]
			require.Equal(t, tc.wantDecision, [2]string{stringOr(ev["decision"]), stringOr(ev["reason"])}, "%v", ev)
		})
	}
}

// TestAuditRefusedBatchHasNoCallEvents: a batch the server refuses whole
// before go-sdk sees it (503 once Shutdown has begun) is audited by the
// request's event alone, as a batch refused for its scopes or its rate is:
// its calls were never let through, so none gets a "no_outcome" event of
// its own.
func TestAuditRefusedBatchHasNoCallEvents(t *testing.T) {
	e := newEnv(t, stateless)
	require.NoError(t, e.srv.Shutdown(context.Background()))
	hdr := with(bearer(e.alice), []string{"Mcp-Protocol-Version", "2025-03-26"})
	before := len(e.logs.events(t))
	r := e.do(http.MethodPost, "/mcp", "["+callBody(1, "salesRead")+","+callBody(2, "whoami")+"]", hdr...)
	require.Equal(t, http.StatusServiceUnavailable, r.Status, r.Body)
	// The request's event is written last, once any event of a call is.
	require.Eventually(t, func() bool {
		evs := e.logs.events(t)
		return len(evs) > before && evs[len(evs)-1]["status"] == float64(http.StatusServiceUnavailable)
	}, 2*time.Second, 10*time.Millisecond)
	events := e.logs.events(t)[before:]
	require.Len(t, events, 1, "%v", events)
	require.Equal(t, [3]string{"error", "shutting_down", "503"},
		[3]string{stringOr(events[0]["decision"]), stringOr(events[0]["reason"]), fmt.Sprint(events[0]["status"])}, "%v", events[0])
}

// TestAuditRefusedPreflight: a CORS preflight the Origin policy refuses
// leaves an audit event (deny / origin, 403); an allowed one leaves none,
// as before.
func TestAuditRefusedPreflight(t *testing.T) {
	e := newEnv(t)
	preflight := func(origin string) int {
		return e.do(http.MethodOptions, "/mcp", "",
			"Origin", origin,
			"Access-Control-Request-Method", "POST",
			"Access-Control-Request-Headers", "authorization, content-type").Status
	}
	require.Equal(t, http.StatusNoContent, preflight("https://app.example.com"))
	require.Equal(t, http.StatusForbidden, preflight("https://evil.example"))
	e.http.Close() // every request audited
	var got [][4]any
	for _, ev := range e.logs.events(t) {
		if ev["http_method"] == http.MethodOptions {
			got = append(got, [4]any{ev["decision"], ev["reason"], ev["status"], ev["path"]})
		}
	}
	require.Equal(t, [][4]any{{"deny", "origin", float64(http.StatusForbidden), "/mcp"}}, got)
}
