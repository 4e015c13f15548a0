package audit_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/idgate/idgate/audit"
)

// The middleware at the front of a net/http service. An inner layer (here a
// stand-in for real authentication) tells the entry who the caller is; the
// handler's 403 becomes a "deny" event. The handler drops the time and the
// duration so that the output is stable.
func ExampleAuditor_Middleware() {
	logger := slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration_us" {
				return slog.Attr{}
			}
			return a
		},
	}))
	aud, err := audit.New(audit.Config{
		Logger:     logger,
		SubjectKey: []byte("example key, use 32 random bytes"),
		SkipPaths:  []string{"/healthz"},
	})
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/reports/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="reports:read"`)
		http.Error(w, "insufficient scope", http.StatusForbidden)
	})
	authenticate := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			audit.EntryFrom(r.Context()).SetIdentity("alice", "https://issuer.example/", "reports-app")
			next.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(aud.Middleware(authenticate(mux)))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/reports/q4", nil)
	req.Header.Set(audit.RequestIDHeader, "req-42")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get(audit.RequestIDHeader))
	// Output:
	// {"level":"INFO","msg":"audit","request_id":"req-42","http_method":"GET","path":"/reports/q4","sub":"be0f719f9218f9debc08f492a504fb6c","iss":"https://issuer.example/","client_id":"reports-app","decision":"deny","reason":"insufficient_scope","status":403}
	// 403 Forbidden req-42
}

// A JSONHandler writes what slog's JSON handler writes; events recorded
// through it are encoded about four times faster. It can serve the rest of
// the service's logging too.
func ExampleNewJSONHandler() {
	logger := slog.New(audit.NewJSONHandler(os.Stdout, nil)).With("service", "crm")
	aud, err := audit.New(audit.Config{
		Logger:     logger,
		SubjectKey: []byte("example key, use 32 random bytes"),
	})
	if err != nil {
		panic(err)
	}
	aud.Record(context.Background(), audit.Event{
		Time:      time.Date(2026, 11, 27, 6, 0, 0, 0, time.UTC),
		RequestID: "req-42", HTTPMethod: "POST", Path: "/mcp", Subject: "alice",
		MCPMethod: "tools/call", Tool: "notes.add", Status: 200, Duration: 1250 * time.Microsecond,
	})
	// Output:
	// {"time":"2026-11-27T06:00:00Z","level":"INFO","msg":"audit","service":"crm","request_id":"req-42","http_method":"POST","path":"/mcp","sub":"be0f719f9218f9debc08f492a504fb6c","mcp_method":"tools/call","tool":"notes.add","decision":"allow","status":200,"duration_us":1250}
}
