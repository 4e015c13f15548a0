package everything

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// none is the input of the tools that take no arguments.
type none struct{}

// reconnectAfter is the reconnection delay test_reconnection asks for
// when it closes its stream (the SSE retry field).
const reconnectAfter = 10 * time.Millisecond

// addTools registers every tool with the scope it needs. resumable says
// whether the server has an event store, without which test_reconnection
// must not close its stream (its answer would be lost).
func addTools(s *mcpserver.Server, resumable bool) {
	content := scopes.All(ScopeContent)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_simple_text", Description: "Returns one text block."}, content, simpleText)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_image_content", Description: "Returns one PNG image block."}, content, imageContent)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_audio_content", Description: "Returns one WAV audio block."}, content, audioContent)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_embedded_resource", Description: "Returns one embedded text resource."}, content, embeddedResource)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_multiple_content_types", Description: "Returns a text, an image and an embedded resource block."}, content, mixedContent)
	mcpserver.AddTool(s, &mcp.Tool{
		Name:        "json_schema_2020_12_tool",
		Description: "Declares an input schema that uses JSON Schema 2020-12 keywords ($schema, $defs, $ref, additionalProperties).",
		InputSchema: schema2020(),
	}, content, schema2020Tool)
	mcpserver.AddTool(s, &mcp.Tool{
		Name:        "test_reconnection",
		Description: "Closes the SSE stream of its own call before answering (SEP-1699): the client gets the answer by resuming the stream with Last-Event-ID.",
	}, content, reconnection(resumable))

	notify := scopes.All(ScopeNotify)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_tool_with_logging", Description: "Sends three info log messages while it runs."}, notify, withLogging)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_tool_with_progress", Description: "Reports progress 0, 50 and 100 of 100 to the caller's progress token."}, notify, withProgress)

	client := scopes.All(ScopeClient)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_sampling", Description: "Asks the client's LLM to complete the prompt (sampling/createMessage)."}, client, sampling)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_elicitation", Description: "Asks the user for a username and an email address (elicitation/create)."}, client, elicitation)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_elicitation_sep1034_defaults", Description: "Elicits fields of every primitive type, each with a default (SEP-1034)."}, client, elicitDefaults)
	mcpserver.AddTool(s, &mcp.Tool{Name: "test_elicitation_sep1330_enums", Description: "Elicits the five enum shapes of SEP-1330."}, client, elicitEnums)

	mcpserver.AddTool(s, &mcp.Tool{Name: "test_error_handling", Description: "Always fails, with a tool error (isError) in the result."}, scopes.Public(), failing)
}

func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

func simpleText(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
	return text("This is a simple text response for testing."), nil, nil
}

func imageContent(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{Data: samplePNG(), MIMEType: pngType}}}, nil, nil
}

func audioContent(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.AudioContent{Data: sampleWAV(), MIMEType: wavType}}}, nil, nil
}

func embeddedResource(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{
		URI:      "test://embedded-resource",
		MIMEType: "text/plain",
		Text:     "This is an embedded resource content.",
	}}}}, nil, nil
}

func mixedContent(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{
		&mcp.TextContent{Text: "Multiple content types test:"},
		&mcp.ImageContent{Data: samplePNG(), MIMEType: pngType},
		&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{
			URI:      "test://mixed-content-resource",
			MIMEType: "application/json",
			Text:     `{"test":"data","value":123}`,
		}},
	}}, nil, nil
}

// reconnection returns the handler of test_reconnection. On a resumable
// server, to a client that can resume, it closes the SSE stream that
// carries the call, asking the client to reconnect after reconnectAfter,
// then answers: the answer goes to the event store, and the client gets it
// on the stream it resumes with GET and Last-Event-ID. To other clients it
// answers on the stream.
func reconnection(resumable bool) mcp.ToolHandlerFor[none, any] {
	return func(_ context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
		if resumable && canResume(req) {
			req.Extra.CloseSSEStream(mcp.CloseSSEStreamArgs{RetryAfter: reconnectAfter})
		}
		return text("Reconnection test completed."), nil, nil
	}
}

// canResume reports whether the client that sent req can resume its
// stream: go-sdk opens a stream with a priming event (the event id to
// resume from) only for protocol versions 2025-11-25 up to 2026-07-28
// (excluded), read from the request's Mcp-Protocol-Version header. It
// offers CloseSSEStream to older clients too, which would lose the answer.
func canResume(req *mcp.CallToolRequest) bool {
	if req.Extra == nil || req.Extra.CloseSSEStream == nil {
		return false
	}
	v := req.Extra.Header.Get("Mcp-Protocol-Version")
	return v >= "2025-11-25" && v < "2026-07-28"
}

func failing(context.Context, *mcp.CallToolRequest, none) (*mcp.CallToolResult, any, error) {
	// go-sdk reports a handler's error as a tool error: isError with the
	// message as text, inside a successful JSON-RPC response.
	return nil, nil, errors.New("this tool intentionally returns an error for testing")
}

// schema2020 is the input schema of json_schema_2020_12_tool.
func schema2020() json.RawMessage {
	return json.RawMessage(`{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "object",
		"$defs": {
			"address": {
				"type": "object",
				"properties": {"street": {"type": "string"}, "city": {"type": "string"}}
			}
		},
		"properties": {
			"name": {"type": "string"},
			"address": {"$ref": "#/$defs/address"}
		},
		"additionalProperties": false
	}`)
}

func schema2020Tool(_ context.Context, _ *mcp.CallToolRequest, in map[string]any) (*mcp.CallToolResult, any, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, nil, err
	}
	return text("Received: " + string(b)), nil, nil
}
