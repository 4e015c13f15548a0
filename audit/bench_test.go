package audit_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/idgate/idgate/audit"
)

func benchAuditor(b *testing.B) *audit.Auditor {
	b.Helper()
	a, err := audit.New(audit.Config{
		Logger:     slog.New(slog.NewJSONHandler(io.Discard, nil)),
		SubjectKey: []byte(testKey),
	})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// benchEvent is a full event, as a tools/call leaves it.
func benchEvent() audit.Event {
	return audit.Event{
		Time: time.Now(), RequestID: "01HZX3J8Q5J2K7M9N4P6R8T0VW", HTTPMethod: "POST", Path: "/mcp",
		Subject: "auth0|6543210fedcba9876543210", Issuer: "https://tenant.example.com/", ClientID: "claude-desktop",
		MCPMethod: "tools/call", Tool: "salesSummary", Decision: audit.Allow,
		Status: 200, Duration: 1234 * time.Microsecond,
	}
}

func BenchmarkRecord(b *testing.B) {
	a := benchAuditor(b)
	ctx := context.Background()
	ev := benchEvent()
	b.Run("no args", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.Record(ctx, ev)
		}
	})
	b.Run("args", func(b *testing.B) {
		ev := ev
		ev.Args = map[string]any{"quarter": "Q4", "region": "EMEA"}
		b.ReportAllocs()
		for b.Loop() {
			a.Record(ctx, ev)
		}
	})
}

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the middleware rather than a recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

func BenchmarkMiddleware(b *testing.B) {
	a := benchAuditor(b)
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		audit.EntryFrom(r.Context()).SetIdentity("auth0|6543210fedcba9876543210", "https://tenant.example.com/", "claude-desktop")
		audit.EntryFrom(r.Context()).SetMCP("tools/call", "salesSummary")
		w.WriteHeader(http.StatusOK)
	}))
	for _, bc := range []struct {
		name string
		id   string
	}{
		{"client request id", "01HZX3J8Q5J2K7M9N4P6R8T0VW"},
		{"generated request id", ""},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			if bc.id != "" {
				r.Header.Set(audit.RequestIDHeader, bc.id)
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

// BenchmarkHashSubject hashes one subject again and again ("repeat", the
// remembered hash) and a new subject every time ("new", HMAC-SHA256: 65 536
// subjects in turn, sixteen times what the table of recent subjects holds).
func BenchmarkHashSubject(b *testing.B) {
	b.Run("repeat", func(b *testing.B) {
		a := benchAuditor(b)
		b.ReportAllocs()
		for b.Loop() {
			a.HashSubject("auth0|6543210fedcba9876543210")
		}
	})
	b.Run("new", func(b *testing.B) {
		a := benchAuditor(b)
		subs := make([]string, 1<<16)
		for i := range subs {
			subs[i] = "auth0|" + strconv.Itoa(1e9+i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			a.HashSubject(subs[i%len(subs)])
			i++
		}
	})
}

// BenchmarkRecordHandlers writes the same event through slog's JSON
// handler and through audit.JSONHandler (its fast path), side by side.
func BenchmarkRecordHandlers(b *testing.B) {
	ctx := context.Background()
	ev := benchEvent()
	for _, h := range []struct {
		name string
		h    slog.Handler
	}{
		{"slog", slog.NewJSONHandler(io.Discard, nil)},
		{"audit", audit.NewJSONHandler(io.Discard, nil)},
	} {
		a, err := audit.New(audit.Config{Logger: slog.New(h.h).With("service", "crm"), SubjectKey: []byte(testKey)})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.Record(ctx, ev)
			}
		})
	}
}

// BenchmarkRecordFile records events through audit.NewJSONHandler to an
// *os.File (os.DevNull), one at a time and from every P at once, as a
// server's requests do: the write(2) of each line is counted.
func BenchmarkRecordFile(b *testing.B) {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	a, err := audit.New(audit.Config{Logger: slog.New(audit.NewJSONHandler(f, nil)), SubjectKey: []byte(testKey)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	ev := benchEvent()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a.Record(ctx, ev)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a.Record(ctx, ev)
			}
		})
	})
}
