package mcpserver

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// scopeData writes what encoding/json would, for scope tokens.
func TestScopeData(t *testing.T) {
	tests := []struct {
		name string
		need []string
	}{
		{"none", nil},
		{"empty", []string{}},
		{"one", []string{"crm:read"}},
		{"several, with every kind of scope-token byte", []string{"a", "crm:*", "https://api.example.com/x.y~z", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			need := tt.need
			if need == nil {
				need = []string{}
			}
			want, err := json.Marshal(struct {
				Scope []string `json:"scope"`
			}{need})
			require.NoError(t, err)
			require.JSONEq(t, string(want), string(scopeData(tt.need)))
			require.True(t, json.Valid(scopeData(tt.need)))
		})
	}
}

// BenchmarkStepUpRefusal is a tools/call refused at the HTTP layer for
// lack of scope: the chain (without audit) ending in the 403 with its
// insufficient_scope challenge and JSON-RPC error body.
func BenchmarkStepUpRefusal(b *testing.B) {
	sink := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { b.Fatal("the call reached go-sdk") })
	h, req := benchChain(b, sink, []string{"notes"}, func(c *Config) { c.Audit = nil })
	serveLoop(b, h, req)
}
