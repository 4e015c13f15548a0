package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/idgate/idgate/audit"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/scopes"
)

// benchEchoAnswer is the demo backend's answer to an echo call, byte for
// byte as it writes it.
const benchEchoAnswer = `{"ok":true,"message":"hello from the benchmark","summary":"Echo: hello from the benchmark"}` + "\n"

// BenchmarkEchoOutcome measures what the gateway does with the backend's
// answer to an echo call once it has the bytes: the decoding
// proxy.Client.Do does into backend.call's destination, newOutcome, and the
// MCP result.
func BenchmarkEchoOutcome(b *testing.B) {
	data := []byte(benchEchoAnswer)
	ctx := audit.WithRequestID(context.Background(), "bench-1")
	b.ReportAllocs()
	for b.Loop() {
		var raw json.RawMessage
		if err := json.Unmarshal(data, &raw); err != nil { // as proxy.Client.Do
			b.Fatal(err)
		}
		o := newOutcome(ctx, raw, nil)
		res, _, _ := o.toolResult("echo")
		if res.IsError {
			b.Fatal("an error result")
		}
	}
}

// BenchmarkBackendEcho measures one echo call from the gateway's tool
// handler to its MCP result: backend.call through proxy.Client and the
// signer, over loopback HTTP to the in-process demo backend, and back.
func BenchmarkBackendEcho(b *testing.B) {
	ctx := context.Background()
	cfg, _, err := loadConfig(map[string]string{
		"OAUTH_ISSUER": "https://issuer.example",
		"PUBLIC_URL":   "http://127.0.0.1:1/mcp",
		"PII_SALT":     testSalt,
		"CRM_DB_PATH":  filepath.Join(b.TempDir(), "crm.sqlite"),
	}, false)
	if err != nil {
		b.Fatal(err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	be, err := newBackend(ctx, cfg, st, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = be.close(context.Background()) })
	id := &identity.Identity{
		Subject:  "alice",
		UserID:   "alice",
		Issuer:   "https://issuer.example",
		Audience: []string{cfg.PublicURL},
		Scopes:   scopes.Of(allScopes...),
	}
	ctx = audit.WithRequestID(ctx, "bench-1")
	in := echoInput{Message: "hello from the benchmark"}
	b.ReportAllocs()
	for b.Loop() {
		res, _, _ := be.call(ctx, id, "echo", in).toolResult("echo")
		if res.IsError {
			b.Fatalf("an error result: %+v", res.Content[0])
		}
	}
}
