package demoapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

// benchEchoBody is the body of the benchmarks' echo calls, as the gateway
// sends it.
const benchEchoBody = `{"message":"hello from the benchmark"}`

// BenchmarkEchoHandler measures one echo call through the backend's
// handler, in process: the identity middleware (with a verifier that
// answers at once), reading and checking the arguments, binding them, and
// writing the answer.
func BenchmarkEchoHandler(b *testing.B) {
	st, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "crm.sqlite"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	id := &identity.Identity{Subject: "alice", UserID: "alice", Scopes: scopes.Of(ScopeEcho)}
	h, err := New(Config{
		Verifier: identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) { return id, nil }),
		Store:    st,
		PIISalt:  []byte("0123456789abcdef-bench-salt"),
	})
	if err != nil {
		b.Fatal(err)
	}
	body := strings.NewReader(benchEchoBody)
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(benchEchoBody)
		r := httptest.NewRequest(http.MethodPost, "/echo", body)
		r.Header.Set("Authorization", "Bearer t")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkReadArgs measures readArgs alone on echo's arguments.
func BenchmarkReadArgs(b *testing.B) {
	fields := []string{"message"}
	body := strings.NewReader(benchEchoBody)
	r := httptest.NewRequest(http.MethodPost, "/echo", body)
	r.Header.Set("Content-Type", "application/json")
	rc := io.NopCloser(body)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(benchEchoBody)
		r.Body = rc
		if _, err := readArgs(w, r, fields); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteJSON measures writeJSON alone on echo's answer.
func BenchmarkWriteJSON(b *testing.B) {
	res := EchoResult{OK: true, Message: "hello from the benchmark", Summary: "Echo: hello from the benchmark"}
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		w.Body.Reset()
		writeJSON(w, http.StatusOK, res)
	}
}
