package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	segjson "github.com/segmentio/encoding/json"
)

// typedTool returns t with its input schema and a go-sdk raw ToolHandler
// that does what mcp.AddTool's typed wrapper does for h (validate the
// arguments against t's input schema or the one inferred from In, decode
// them into In, call h, turn its error and its output into the result), for
// the tools where that is simple: In a struct (or a pointer to one), and
// t's schemas unset or given in any form go-sdk accepts (a
// *jsonschema.Schema, or a map or raw JSON that converts to one). ok is
// false for any other tool, which is then registered with mcp.AddTool as
// it is.
//
// Why: go-sdk's typed wrapper decodes the arguments twice through its
// internal/json, whose every decode allocates a fresh 32 KiB buffer (a
// segmentio Decoder over the bytes), and a typed output once more: 64 of
// the ~275 KiB an echo tools/call allocated, in a server where the garbage
// collector they drive is a large share of the CPU (docs/benchmarks.md:
// +16% calls per second for idgate, +20% without auth).
// Here the same parser decodes in place (segmentio's Parse, with the flag
// go-sdk sets: struct fields match keys exactly), after the same nesting
// limit. TestTypedToolMatchesGoSDK holds the two to the same results.
func typedTool[In, Out any](t *mcp.Tool, h mcp.ToolHandlerFor[In, Out]) (*mcp.Tool, mcp.ToolHandler, bool) {
	// The output schema: the one given, or inferred from Out unless Out is
	// any; for a pointer Out, the zero value of its element stands in for
	// a nil result (a typed nil would encode as null).
	var (
		outSchema   *jsonschema.Schema
		outResolved *toolSchema
		elemZero    any
	)
	ot := reflect.TypeFor[Out]()
	if ot.Kind() == reflect.Pointer {
		ot = ot.Elem()
		elemZero = reflect.Zero(ot).Interface()
	}
	if t.OutputSchema != nil || reflect.TypeFor[Out]() != reflect.TypeFor[any]() {
		var ok bool
		if outSchema, outResolved, ok = schemaFor(t.OutputSchema, ot); !ok {
			return nil, nil, false // mcp.AddTool handles or reports it
		}
	}
	rt := reflect.TypeFor[In]()
	if rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	if rt.Kind() != reflect.Struct {
		return nil, nil, false // any, maps and the like: go-sdk's own rules
	}
	schema, in, ok := schemaFor(t.InputSchema, rt)
	if !ok || schema.Type != "object" {
		return nil, nil, false // mcp.AddTool handles or reports it
	}
	// A schema given stays in the Tool as it was given (tools/list shows
	// it so), as with mcp.AddTool; an inferred one is set.
	tt := *t
	if t.InputSchema == nil {
		tt.InputSchema = schema
	}
	if t.OutputSchema == nil && outSchema != nil {
		tt.OutputSchema = outSchema
	}
	handler := func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		args, err := checkArguments(req.Params.Arguments, in)
		if err != nil {
			return errorResult(fmt.Errorf("validating \"arguments\": %v", err)), nil
		}
		var in In
		if err := decodeExact(args, &in); err != nil {
			return errorResult(err), nil
		}
		res, out, err := h(ctx, req, in)
		if err != nil {
			if wire, ok := err.(*jsonrpc.Error); ok {
				return nil, wire // a protocol error, sent as such
			}
			return errorResult(err), nil
		}
		if res == nil {
			res = &mcp.CallToolResult{}
		}
		v := any(out)
		switch {
		case res.InputRequests != nil:
			v = nil // input requests go without content
		case elemZero != nil:
			var zero Out
			if v == any(zero) {
				v = elemZero
			}
		}
		if v != nil {
			b, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("marshaling output: %w", err)
			}
			if outResolved != nil {
				if b, err = checkOutput(b, outResolved); err != nil {
					return nil, fmt.Errorf("validating tool output: %w", err)
				}
			}
			res.StructuredContent = json.RawMessage(b)
			switch {
			case res.Content == nil:
				res.Content = []mcp.Content{&mcp.TextContent{Text: string(b)}}
			case !startsObject(b):
				res.Content = append(res.Content, &mcp.TextContent{Text: string(b)})
			}
		}
		return res, nil
	}
	return &tt, handler, true
}

// toolSchema is a resolved schema and its quick form, if it has one.
type toolSchema struct {
	resolved *jsonschema.Resolved
	quick    *quickSchema // nil: validate with resolved only
}

// schemaFor returns the schema go-sdk's typed wrapper uses for a tool's
// input or output, resolved as it resolves it: the one given in the Tool
// (a *jsonschema.Schema, or anything else converted to one through its
// JSON), else the one inferred from rt. ok is false for a given schema that
// does not convert and for one that does not resolve; go-sdk then reports
// it.
func schemaFor(given any, rt reflect.Type) (*jsonschema.Schema, *toolSchema, bool) {
	if given == nil {
		return inferSchema(rt)
	}
	schema, ok := given.(*jsonschema.Schema)
	if !ok {
		// Another form (a map, json.RawMessage, a struct): converted
		// through its JSON, as go-sdk converts it.
		b, err := json.Marshal(given)
		if err != nil || decodeExact(b, &schema) != nil {
			return nil, nil, false
		}
	}
	if schema == nil {
		return nil, nil, false
	}
	return resolveSchema(schema)
}

// inferSchema infers the JSON schema of rt and resolves it, as go-sdk does
// for a typed tool's input and output.
func inferSchema(rt reflect.Type) (*jsonschema.Schema, *toolSchema, bool) {
	schema, err := jsonschema.ForType(rt, &jsonschema.ForOptions{})
	if err != nil || schema == nil {
		return nil, nil, false
	}
	return resolveSchema(schema)
}

// resolveSchema resolves schema as go-sdk does and compiles its quick form.
func resolveSchema(schema *jsonschema.Schema) (*jsonschema.Schema, *toolSchema, bool) {
	resolved, err := schema.Resolve(&jsonschema.ResolveOptions{ValidateDefaults: true})
	if err != nil {
		return nil, nil, false
	}
	return schema, &toolSchema{resolved: resolved, quick: compileQuick(schema)}, true
}

// checkArguments decodes the arguments into a map (absent arguments are
// {}), applies the schema's defaults, validates, and returns the map
// encoded again: the form the typed handler's value is decoded from.
func checkArguments(raw json.RawMessage, ts *toolSchema) ([]byte, error) {
	m := make(map[string]any)
	if len(raw) > 0 {
		if err := decodeExact(raw, &m); err != nil {
			return nil, fmt.Errorf("unmarshaling arguments: %w", err)
		}
		if m == nil {
			// "arguments": null, absent too: applying defaults to the
			// nil map it decodes to would panic (go-sdk's mcp.AddTool
			// does, v1.8.0).
			m = make(map[string]any)
		}
	}
	return applySchema(m, ts, true, nil)
}

// checkOutput validates a tool's encoded output against the output
// schema, after applying its defaults to an object (or to {} when the
// output is null and the schema is an object's), and returns the output
// encoded again when defaults were applied.
func checkOutput(b []byte, ts *toolSchema) ([]byte, error) {
	var v any
	if len(b) > 0 {
		if err := decodeExact(b, &v); err != nil {
			return nil, fmt.Errorf("unmarshaling output: %w", err)
		}
	}
	_, isObject := v.(map[string]any)
	if v == nil && ts.resolved.Schema().Type == "object" {
		v, isObject = make(map[string]any), true
	}
	return applySchema(v, ts, isObject, b)
}

// applySchema applies the schema's defaults to v when withDefaults,
// validates v, and returns it encoded again if defaults were applied, else
// orig. A value the quick form finds valid skips both steps: that form has
// no defaults, and jsonschema-go would accept the value (the value is
// encoded again all the same, so that what the handler's value is decoded
// from does not depend on which check ran).
func applySchema(v any, ts *toolSchema, withDefaults bool, orig []byte) ([]byte, error) {
	if ts.quick == nil || !ts.quick.valid(v) {
		if withDefaults {
			if err := ts.resolved.ApplyDefaults(&v); err != nil {
				return nil, fmt.Errorf("applying schema defaults:\n%w", err)
			}
		}
		if err := ts.resolved.Validate(&v); err != nil {
			return nil, err
		}
	}
	if !withDefaults {
		return orig, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshalling with defaults: %v", err)
	}
	return b, nil
}

// maxArgumentDepth is the deepest nesting of arrays and objects decoded,
// go-sdk's limit too.
const maxArgumentDepth = 1000

// decodeExact decodes the JSON value in b into v as go-sdk decodes tool
// arguments: segmentio's parser, keys matching struct fields exactly (no
// case folding), at most maxArgumentDepth levels of nesting; anything
// after the value is ignored.
func decodeExact(b []byte, v any) error {
	if tooDeep(b, maxArgumentDepth) {
		return fmt.Errorf("json: exceeded maximum nesting depth of %d", maxArgumentDepth)
	}
	_, err := segjson.Parse(b, v, segjson.DontMatchCaseInsensitiveStructFields)
	return err
}

// tooDeep reports whether arrays and objects nest more than max deep in b
// (brackets inside strings do not count).
func tooDeep(b []byte, max int) bool {
	depth := 0
	var str jsonString
	for _, c := range b {
		switch {
		case str.within(c):
		case c == '{' || c == '[':
			if depth++; depth > max {
				return true
			}
		case (c == '}' || c == ']') && depth > 0:
			depth--
		}
	}
	return false
}

// jsonString follows JSON text byte by byte to tell the bytes of its
// strings (quotes and escapes included) from the rest.
type jsonString struct{ in, escaped bool }

// within reports whether c, the text's next byte, belongs to a string.
func (s *jsonString) within(c byte) bool {
	switch {
	case s.in && s.escaped:
		s.escaped = false
	case s.in && c == '\\':
		s.escaped = true
	case s.in && c == '"':
		s.in = false
	case s.in:
	case c == '"':
		s.in = true
	default:
		return false
	}
	return true
}

// startsObject reports whether the JSON in b is an object.
func startsObject(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c == '{'
	}
	return false
}

// errorResult is the tool result reporting err (IsError, err's text).
func errorResult(err error) *mcp.CallToolResult {
	var res mcp.CallToolResult
	res.SetError(err)
	return &res
}
