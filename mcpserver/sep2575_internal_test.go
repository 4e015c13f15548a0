package mcpserver

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCallParamsMetaRawMirrors: callParamsMetaRaw has the fields of
// mcp.CallToolParamsRaw, with the same JSON names and types, but for
// _meta, which it keeps undecoded.
func TestCallParamsMetaRawMirrors(t *testing.T) {
	want, got := reflect.TypeFor[mcp.CallToolParamsRaw](), reflect.TypeFor[callParamsMetaRaw]()
	require.Equal(t, want.NumField(), got.NumField())
	for i := range want.NumField() {
		w, g := want.Field(i), got.Field(i)
		assert.Equal(t, w.Name, g.Name)
		assert.Equal(t, w.Tag.Get("json"), g.Tag.Get("json"), w.Name)
		if w.Name == "Meta" {
			assert.Equal(t, reflect.TypeFor[json.RawMessage](), g.Type)
			continue
		}
		assert.Equal(t, w.Type, g.Type, w.Name)
	}
}

// newCallParams are params of 2026-07-28 calls, plain and not.
var newCallParams = []string{
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true}},"io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"echo","arguments":{"message":"hi"}}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28","progressToken":-0,"x":[1e-400,1E2,{"a":1,"a":{"b":null}}]},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"Roots":{},"roots":null,"sampling":{"tools":{}},"experimental":{"k":[true]}},"io.modelcontextprotocol/clientInfo":{"NAME":"x","icons":[{"src":"s","sizes":["1x1"]}]},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/protocolVersion":"2025-11-25"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/logLevel":null},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":5,"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":5},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":null,"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28","n":1e400},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":5}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n","inputResponses":{"q":{"action":"accept"}},"requestState":"s"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"} ,"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocol\u0056ersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28","x":"é"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"sampling":{"tools":{}},"sampling":{"context":{}}},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"_meta":{"io.modelcontextprotocol/logLevel":"debug"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{ },"io.modelcontextprotocol/clientInfo":{"name":"x","version":"1","title":"t","description":"d","websiteUrl":"w"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n","arguments":{"a":[1,{"b":"c"}]}}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"x","version":1},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"x","icons":[{"src":"s"}],"Name":"y"},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":null},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"na\u006de":"n","name":"m","arguments":null}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n","arguments":[],"Arguments":{}}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n","name":"m","arguments":{},"arguments":{"x":1}}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"é","requestState":"s"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{}},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":false}},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"roots":{"listChanged":true},"x":{"y":{"z":1,"z":2}}},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
	`{"_meta":null,"name":"n"}`,
	`{"_meta":[],"name":"n"}`,
}

// checkDecodersAgree requires decodeNewCall's plain way, where it takes
// params, to give what the exact way gives.
func checkDecodersAgree(t *testing.T, params string) {
	p, init, ok, plain := decodeNewCallPlain([]byte(params), protocolVersionNew)
	if !plain {
		return
	}
	ep, eok := callParams([]byte(params))
	var einit *mcp.InitializeParams
	if eok {
		einit, eok = metaInitializeParams(ep.Meta, protocolVersionNew)
	}
	require.Equal(t, eok, ok, "accepted, %s", params)
	if !ok {
		return
	}
	require.Equal(t, ep, p, params)
	require.Equal(t, einit, init, params)
	// Equal does not tell -0 from 0; the encodings do.
	for _, pair := range [][2]any{{ep, p}, {einit, init}} {
		a, err := json.Marshal(pair[0])
		require.NoError(t, err)
		b, err := json.Marshal(pair[1])
		require.NoError(t, err)
		require.Equal(t, string(a), string(b), params)
	}
}

// TestDecodeNewCallPlainMatchesExact: for the params whose _meta is
// plain, decodeNewCall's cheap way accepts what the exact way (go-sdk's
// decoder, then go-sdk's re-encoding of each _meta value) accepts, and
// gives the same params and initialize params.
func TestDecodeNewCallPlainMatchesExact(t *testing.T) {
	plain := 0
	for _, params := range newCallParams {
		checkDecodersAgree(t, params)
		if _, _, _, ok := decodeNewCallPlain([]byte(params), protocolVersionNew); ok {
			plain++
		}
	}
	require.GreaterOrEqual(t, plain, 8, "cases that take the plain way")
	for _, p := range []string{
		`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocol\u0056ersion":"2026-07-28"},"name":"n"}`,
		`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28","x":"é"},"name":"n"}`,
		`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{"sampling":{},"sampling":{}},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"name":"n"}`,
		`{"_meta":{"io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/protocolVersion":"2026-07-28"},"_meta":{},"name":"n"}`,
	} {
		_, _, _, ok := decodeNewCallPlain([]byte(p), protocolVersionNew)
		require.False(t, ok, "an escape, a non-ASCII byte or a duplicate key in _meta takes the exact way: %s", p)
	}
}

// FuzzDecodeNewCallPlainMatchesExact is TestDecodeNewCallPlainMatchesExact
// over any params.
func FuzzDecodeNewCallPlainMatchesExact(f *testing.F) {
	for _, p := range newCallParams {
		f.Add(p)
	}
	f.Fuzz(checkDecodersAgree)
}

// BenchmarkDecodeNewCall decodes the params of a 2026-07-28 call as
// go-sdk's client sends them, the plain way and the exact way.
func BenchmarkDecodeNewCall(b *testing.B) {
	params := []byte(newCallParams[0])
	b.Run("plain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok, plain := decodeNewCallPlain(params, protocolVersionNew); !ok || !plain {
				b.Fatal("not decoded the plain way")
			}
		}
	})
	b.Run("exact", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, ok := callParams(params)
			if !ok {
				b.Fatal("not decoded")
			}
			if _, ok := metaInitializeParams(p.Meta, protocolVersionNew); !ok {
				b.Fatal("not decoded")
			}
		}
	})
}
