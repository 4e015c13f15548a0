package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
)

// typedArgs exercises the decoding rules: strings, numbers, slices, a
// nested pointer, omitempty fields. (An unexported field would be skipped
// by both the schema and the decoder; "hidden" in the arguments is an
// unknown property either way.)
type typedArgs struct {
	Message string   `json:"message"`
	Count   int      `json:"count,omitempty"`
	Ratio   float64  `json:"ratio,omitempty"`
	Tags    []string `json:"tags,omitempty"`
	Nested  *struct {
		X float64 `json:"x"`
	} `json:"nested,omitempty"`
	Flag bool `json:"flag,omitempty"`
}

// typedHandler answers according to the message, so that one tool covers
// every way a handler can return.
func typedHandler(_ context.Context, _ *mcp.CallToolRequest, in typedArgs) (*mcp.CallToolResult, any, error) {
	enc, _ := json.Marshal(in)
	text := &mcp.TextContent{Text: "in: " + string(enc)}
	switch in.Message {
	case "error":
		return nil, nil, errors.New("tool failed")
	case "wrapped-rpc-error":
		return nil, nil, fmt.Errorf("wrapped: %w", &jsonrpc.Error{Code: 1234, Message: "inner"})
	case "rpc-error":
		return nil, nil, &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: "bad params"}
	case "nil-result":
		return nil, nil, nil
	case "out-object":
		return nil, map[string]any{"echo": in.Message, "n": 1}, nil
	case "out-object-with-content":
		return &mcp.CallToolResult{Content: []mcp.Content{text}}, map[string]any{"k": "v"}, nil
	case "out-string-with-content":
		return &mcp.CallToolResult{Content: []mcp.Content{text}}, "plain", nil
	case "out-array":
		return nil, []int{1, 2}, nil
	case "out-unencodable":
		return nil, func() {}, nil
	case "is-error-result":
		r := &mcp.CallToolResult{Content: []mcp.Content{text}}
		r.SetError(errors.New("reported"))
		return r, nil, nil
	}
	return &mcp.CallToolResult{Content: []mcp.Content{text}}, nil, nil
}

// connectTool serves one tool named "t" on a go-sdk server, registered by
// register, and returns a client session on it (in-memory transports).
func connectTool(t *testing.T, register func(*mcp.Server)) *mcp.ClientSession {
	t.Helper()
	srv := mcp.NewServer(&mcp.Implementation{Name: "s", Version: "1"}, nil)
	register(srv)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := srv.Connect(t.Context(), st, nil)
	require.NoError(t, err)
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "c", Version: "1"}, nil).Connect(t.Context(), ct, nil)
	require.NoError(t, err)
	t.Cleanup(func() { cs.Close() })
	return cs
}

// The fast path gives what go-sdk's typed wrapper gives, over the wire, for
// every argument and every kind of handler return: same tools/list entry,
// same results, same protocol errors.
func TestTypedToolMatchesGoSDK(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 1001) + "1" + strings.Repeat("}", 1001)
	args := []string{
		``, `null`, `{}`, `{"message":"hi"}`, `{"message":"h\u00e9\"llo"}`,
		`{"Message":"case"}`, `{"MESSAGE":"case"}`, `{"message":1}`, `{"message":"hi","extra":1}`,
		`{"message":"a","message":"b"}`, `{"count":3}`, `{"count":1.5}`, `{"count":12345678901234567890}`,
		`{"count":-0}`, `{"ratio":1e308}`, `{"ratio":1e400}`, `{"tags":["a","b"]}`, `{"tags":["a",2]}`,
		`{"tags":null}`, `{"nested":{"x":2}}`, `{"nested":{"X":2}}`, `{"nested":null}`, `{"flag":"true"}`,
		`{"hidden":"x"}`, `[]`, `"str"`,
		`{"message":"m","count":3}`, `{"message":"m","count":12345678901234567890}`, `{"message":"m","count":-0}`,
		`{"message":"m","count":1e2}`, `{"message":"m","ratio":1e308}`, `{"message":"m","ratio":-1.5e-300}`,
		`{"message":"m","tags":["a","b"]}`, `{"message":"m","tags":[]}`, `{"message":"m","tags":null}`,
		`{"message":"m","nested":{"x":2}}`, `{"message":"m","nested":{"X":2}}`, `{"message":"m","nested":{}}`,
		`{"message":"m","nested":null}`, `{"message":"m","flag":true}`, `{"message":"m","hidden":"x"}`,
		`{"message":"m\ud800"}`, `{"message":"\u0000"}`, `{"message":null}`, ` {"message":"space"} `, `{"message":"` + strings.Repeat("x", 100000) + `"}`,
		`{"tags":` + strings.Repeat("[", 999) + strings.Repeat("]", 999) + `}`, deep,
		`{"message":"error"}`, `{"message":"wrapped-rpc-error"}`, `{"message":"rpc-error"}`,
		`{"message":"nil-result"}`, `{"message":"out-object"}`, `{"message":"out-object-with-content"}`,
		`{"message":"out-string-with-content"}`, `{"message":"out-array"}`, `{"message":"out-unencodable"}`,
		`{"message":"is-error-result"}`,
	}
	compareTool(t, typedHandler, args...)
}

// Tools the fast path does not take are left to mcp.AddTool.
func TestTypedToolDeclines(t *testing.T) {
	h := func(context.Context, *mcp.CallToolRequest, typedArgs) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	}
	_, _, ok := typedTool(&mcp.Tool{Name: "t", InputSchema: map[string]any{"type": "object"}}, h)
	require.True(t, ok, "input schema given as a map")
	_, _, ok = typedTool(&mcp.Tool{Name: "t", OutputSchema: json.RawMessage(`{"type":"object"}`)}, h)
	require.True(t, ok, "output schema given as raw JSON")
	_, _, ok = typedTool(&mcp.Tool{Name: "t", InputSchema: map[string]any{"type": "object", "properties": 1}}, h)
	require.False(t, ok, "input schema that does not convert")
	_, _, ok = typedTool(&mcp.Tool{Name: "t", InputSchema: json.RawMessage(`null`)}, h)
	require.False(t, ok, "input schema that converts to nothing")
	_, _, ok = typedTool(&mcp.Tool{Name: "t", InputSchema: func() {}}, h)
	require.False(t, ok, "input schema that does not encode")
	_, _, ok = typedTool(&mcp.Tool{Name: "t", InputSchema: &jsonschema.Schema{Type: "string"}}, h)
	require.False(t, ok, "input schema not an object's")
	_, _, ok = typedTool(&mcp.Tool{Name: "t", InputSchema: &jsonschema.Schema{Type: "object", Pattern: "("}}, h)
	require.False(t, ok, "input schema that does not resolve")
	_, _, ok = typedTool(&mcp.Tool{Name: "t", InputSchema: &jsonschema.Schema{Type: "object"}, OutputSchema: &jsonschema.Schema{Type: "object"}}, h)
	require.True(t, ok, "schemas given as *jsonschema.Schema")
	_, _, ok = typedTool(&mcp.Tool{Name: "t"}, func(context.Context, *mcp.CallToolRequest, any) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	})
	require.False(t, ok, "In is any")
	_, _, ok = typedTool(&mcp.Tool{Name: "t"}, func(context.Context, *mcp.CallToolRequest, map[string]any) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	})
	require.False(t, ok, "In is a map")
	_, _, ok = typedTool(&mcp.Tool{Name: "t"}, func(context.Context, *mcp.CallToolRequest, *typedArgs) (*mcp.CallToolResult, any, error) {
		return nil, nil, nil
	})
	require.True(t, ok, "In is a pointer to a struct")
}

// The same holds for a pointer to a struct as In.
func TestTypedToolPointerInMatchesGoSDK(t *testing.T) {
	compareTool(t, func(ctx context.Context, req *mcp.CallToolRequest, in *typedArgs) (*mcp.CallToolResult, any, error) {
		if in == nil {
			return nil, nil, errors.New("nil input")
		}
		return typedHandler(ctx, req, *in)
	}, `{}`, `null`, `{"message":"hi","count":2}`, `{"message":"out-object"}`, `{"message":"m","nested":{"x":1}}`)
}

// compareTool registers h both ways (go-sdk's typed wrapper, typedTool)
// and requires, over go-sdk's client, the same tools/list entry and the
// same result or error for every argument.
func compareTool[In, Out any](t *testing.T, h mcp.ToolHandlerFor[In, Out], args ...string) {
	t.Helper()
	compareToolDecl(t, &mcp.Tool{Name: "t"}, h, args...)
}

// compareToolDecl is compareTool for a tool declared as tool (named "t").
func compareToolDecl[In, Out any](t *testing.T, tool *mcp.Tool, h mcp.ToolHandlerFor[In, Out], args ...string) {
	t.Helper()
	sdk := connectTool(t, func(s *mcp.Server) { mcp.AddTool(s, tool, h) })
	fast := connectTool(t, func(s *mcp.Server) {
		tt, th, ok := typedTool(tool, h)
		require.True(t, ok)
		s.AddTool(tt, th)
	})
	lw, err := sdk.ListTools(t.Context(), nil)
	require.NoError(t, err)
	lg, err := fast.ListTools(t.Context(), nil)
	require.NoError(t, err)
	bw, _ := json.Marshal(lw.Tools)
	bg, _ := json.Marshal(lg.Tools)
	require.JSONEq(t, string(bw), string(bg))
	for _, raw := range args {
		var want, got string
		for _, side := range []struct {
			cs  *mcp.ClientSession
			out *string
		}{{sdk, &want}, {fast, &got}} {
			p := &mcp.CallToolParams{Name: "t"}
			if raw != "" { // "" sends no arguments at all
				p.Arguments = json.RawMessage(raw)
			}
			res, err := side.cs.CallTool(t.Context(), p)
			b, _ := json.Marshal(res)
			*side.out = fmt.Sprintf("%s %v", b, err)
		}
		require.Equal(t, want, got, raw)
	}
}

type outStruct struct {
	N int      `json:"n"`
	S string   `json:"s,omitempty"`
	L []string `json:"l"`
}

// badOut encodes as something its inferred schema refuses.
type badOut struct{}

func (badOut) MarshalJSON() ([]byte, error) { return []byte(`{"n":"x"}`), nil }

// Schemas given in the Tool (as *jsonschema.Schema) are used as go-sdk
// uses them: their defaults, enum, bounds, required and extra properties
// decide, whatever In looks like; a given output schema validates a typed
// output and an untyped one.
func TestTypedToolGivenSchemasMatchGoSDK(t *testing.T) {
	num := func(f float64) *float64 { return &f }
	in := &jsonschema.Schema{
		Type:        "object",
		Description: "given",
		Properties: map[string]*jsonschema.Schema{
			"message": {Type: "string", Enum: []any{"hi", "error", "out-object", "nil-result", "out-array"}},
			"count":   {Type: "integer", Default: json.RawMessage(`7`), Minimum: num(0)},
			"ratio":   {Type: "number", Maximum: num(1)},
			"tags":    {Type: "array", Items: &jsonschema.Schema{Type: "string"}},
			"other":   {Type: "string"},
		},
		Required: []string{"message"},
	}
	args := []string{
		``, `{}`, `{"message":"hi"}`, `{"message":"bye"}`, `{"message":"hi","count":-1}`, `{"message":"hi","count":3}`,
		`{"message":"hi","ratio":2}`, `{"message":"hi","ratio":0.5}`, `{"message":"hi","tags":["a",1]}`,
		`{"message":"hi","other":"not in In"}`, `{"message":"hi","unknown":1}`, `{"Message":"hi"}`,
		`{"message":"error"}`, `{"message":"out-object"}`, `{"message":"nil-result"}`, `{"message":"out-array"}`,
	}
	compareToolDecl(t, &mcp.Tool{Name: "t", InputSchema: in}, typedHandler, args...)

	out := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{
		"echo": {Type: "string"}, "n": {Type: "integer", Default: json.RawMessage(`5`)},
	}, Required: []string{"echo"}}
	compareToolDecl(t, &mcp.Tool{Name: "t", InputSchema: in, OutputSchema: out}, typedHandler, args...)
	typedOut := func(_ context.Context, _ *mcp.CallToolRequest, in typedArgs) (*mcp.CallToolResult, *outStruct, error) {
		if in.Message == "nil-result" {
			return nil, nil, nil
		}
		return nil, &outStruct{N: in.Count, S: in.Message}, nil
	}
	outS := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{
		"n": {Type: "integer", Maximum: num(5)}, "s": {Type: "string", Default: json.RawMessage(`"d"`)}, "l": {Type: "null"},
	}}
	compareToolDecl(t, &mcp.Tool{Name: "t", OutputSchema: outS}, typedOut, args...)

	// The same schemas as maps and as raw JSON, as go-sdk takes them too;
	// a keyword jsonschema.Schema does not know stays in tools/list.
	for _, form := range []struct {
		name string
		conv func(*jsonschema.Schema) any
	}{
		{"map", func(s *jsonschema.Schema) any {
			var m map[string]any
			b, _ := json.Marshal(s)
			require.NoError(t, json.Unmarshal(b, &m))
			m["x-note"] = "kept"
			return m
		}},
		{"raw JSON", func(s *jsonschema.Schema) any {
			b, _ := json.Marshal(s)
			return json.RawMessage(b)
		}},
	} {
		t.Run(form.name, func(t *testing.T) {
			tool := &mcp.Tool{Name: "t", InputSchema: form.conv(in), OutputSchema: form.conv(out)}
			tt, _, ok := typedTool(tool, typedHandler)
			require.True(t, ok, "takes idgate's path")
			require.Equal(t, tool.InputSchema, tt.InputSchema, "registered as given, as go-sdk does")
			require.Equal(t, tool.OutputSchema, tt.OutputSchema, "registered as given, as go-sdk does")
			compareToolDecl(t, tool, typedHandler, args...)
			tool = &mcp.Tool{Name: "t", OutputSchema: form.conv(outS)}
			_, _, ok = typedTool(tool, typedOut)
			require.True(t, ok, "takes idgate's path")
			compareToolDecl(t, tool, typedOut, args...)
		})
	}
}

// Typed outputs: the output schema, the structured content, the text
// fallback, the zero value for a nil pointer, and output validation errors
// are go-sdk's.
func TestTypedToolOutputMatchesGoSDK(t *testing.T) {
	args := []string{`{"message":"value"}`, `{"message":"zero"}`, `{"message":"with-content"}`, `{"message":"error"}`, `{}`}
	pick := func(in typedArgs) (*mcp.CallToolResult, bool, error) {
		switch in.Message {
		case "with-content":
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "c"}}}, true, nil
		case "error":
			return nil, false, errors.New("failed")
		case "zero":
			return nil, false, nil
		}
		return nil, true, nil
	}
	t.Run("struct", func(t *testing.T) {
		compareTool(t, func(_ context.Context, _ *mcp.CallToolRequest, in typedArgs) (*mcp.CallToolResult, outStruct, error) {
			res, full, err := pick(in)
			if !full {
				return res, outStruct{}, err
			}
			return res, outStruct{N: 7, S: in.Message, L: []string{"a"}}, err
		}, args...)
	})
	t.Run("pointer", func(t *testing.T) {
		compareTool(t, func(_ context.Context, _ *mcp.CallToolRequest, in typedArgs) (*mcp.CallToolResult, *outStruct, error) {
			res, full, err := pick(in)
			if !full {
				return res, nil, err
			}
			return res, &outStruct{N: 1, L: nil}, err
		}, args...)
	})
	t.Run("slice", func(t *testing.T) {
		compareTool(t, func(_ context.Context, _ *mcp.CallToolRequest, in typedArgs) (*mcp.CallToolResult, []int, error) {
			res, full, err := pick(in)
			if !full {
				return res, nil, err
			}
			return res, []int{1, 2, 3}, err
		}, args...)
	})
	t.Run("map", func(t *testing.T) {
		compareTool(t, func(_ context.Context, _ *mcp.CallToolRequest, in typedArgs) (*mcp.CallToolResult, map[string]int, error) {
			res, full, err := pick(in)
			if !full {
				return res, nil, err
			}
			return res, map[string]int{"k": 1}, err
		}, args...)
	})
	t.Run("string", func(t *testing.T) {
		compareTool(t, func(_ context.Context, _ *mcp.CallToolRequest, in typedArgs) (*mcp.CallToolResult, string, error) {
			res, _, err := pick(in)
			return res, in.Message, err
		}, args...)
	})
	t.Run("invalid output", func(t *testing.T) {
		compareTool(t, func(_ context.Context, _ *mcp.CallToolRequest, in typedArgs) (*mcp.CallToolResult, badOut, error) {
			res, _, err := pick(in)
			return res, badOut{}, err
		}, args...)
	})
}
