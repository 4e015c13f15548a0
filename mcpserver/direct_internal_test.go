package mcpserver

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSSEEventMatchesGoSDK: the events the direct path writes are
// jsonrpc.EncodeMessage's bytes framed as go-sdk frames them, for
// responses it encodes itself (appendResult) and for those it leaves to
// EncodeMessage.
func TestSSEEventMatchesGoSDK(t *testing.T) {
	ids := []any{float64(0), float64(7), float64(-3), float64(1 << 52), float64(math.MaxInt32), "a-1", "<&>", "x y", "é", "a\"b", "a\\b", "\u2028", ""}
	results := []any{
		&mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Echo: <b>&amp; \u2028 é \"q\""}}},
		&mcp.CallToolResult{StructuredContent: map[string]any{"n": 1.5, "s": []any{"x", nil, true}}, Content: []mcp.Content{}},
		&mcp.ListToolsResult{Tools: []*mcp.Tool{{Name: "t", InputSchema: map[string]any{"type": "object"}}}},
		map[string]any{},
	}
	for _, idv := range ids {
		id, err := jsonrpc.MakeID(idv)
		require.NoError(t, err)
		for _, r := range results {
			// Results as go-sdk encodes them (HTML escaping off).
			for _, msg := range []jsonrpc.Message{
				&jsonrpc.Response{ID: id, Result: compactNoHTML(t, r)},
				&jsonrpc.Response{ID: id, Error: &jsonrpc.Error{Code: -32602, Message: "bad <args>"}},
			} {
				want, err := jsonrpc.EncodeMessage(msg)
				require.NoError(t, err)
				got, err := sseEvent(msg)
				require.NoError(t, err)
				assert.Equal(t, "event: message\ndata: "+string(want)+"\n\n", string(got))
			}
		}
	}
	// A notification goes through EncodeMessage.
	n := &jsonrpc.Request{Method: "notifications/message", Params: json.RawMessage(`{"level":"info","data":"x"}`)}
	want, err := jsonrpc.EncodeMessage(n)
	require.NoError(t, err)
	got, err := sseEvent(n)
	require.NoError(t, err)
	assert.Equal(t, "event: message\ndata: "+string(want)+"\n\n", string(got))
}

// compactNoHTML encodes v as go-sdk encodes results.
func compactNoHTML(t *testing.T, v any) json.RawMessage {
	t.Helper()
	var b []byte
	w := &appendWriter{b: &b}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	return json.RawMessage(b[:len(b)-1])
}

type appendWriter struct{ b *[]byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

// TestPlainID: the ids the direct path takes, as go-sdk's decoder reads
// them, and those it leaves to go-sdk.
func TestPlainID(t *testing.T) {
	for raw, want := range map[string]any{
		`7`: int64(7), `-3`: int64(-3), `0`: int64(0), `-0`: int64(0), `999999999999999`: int64(999999999999999),
		`"a-1"`: "a-1", `""`: "", `"<&>"`: "<&>",
	} {
		id, ok := plainID([]byte(raw))
		require.True(t, ok, raw)
		assert.Equal(t, want, id.Raw(), raw)
		// go-sdk's reading of the same id.
		sdk, err := parseID([]byte(raw))
		require.NoError(t, err)
		assert.Equal(t, sdk, id, raw)
	}
	for _, raw := range []string{`1.5`, `1e3`, `01`, `1234567890123456`, `"a\u0041"`, `"é"`, `null`, `true`, `-`, ``, `[1]`} {
		_, ok := plainID([]byte(raw))
		assert.False(t, ok, raw)
	}
}
