//lint:file-ignore SA1019 the conformance scenarios exercise logging and sampling, deprecated by SEP-2577 (protocol 2026-07-28) but part of 2025-11-25, which clients speak.

package everything

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The tools in this file talk to the client while they run: notifications
// (logging, progress) and requests (sampling, elicitation). They need a
// stateful server: in stateless mode go-sdk refuses server-to-client
// requests.

func withLogging(ctx context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
	for _, msg := range []string{"Tool execution started", "Tool processing data", "Tool execution completed"} {
		if err := req.Session.Log(ctx, &mcp.LoggingMessageParams{Level: "info", Logger: "everything", Data: msg}); err != nil {
			return nil, nil, fmt.Errorf("log %q: %w", msg, err)
		}
	}
	return text("Tool with logging executed successfully"), nil, nil
}

func withProgress(ctx context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
	token := req.Params.GetProgressToken()
	if token == nil {
		return text("No progress token: nothing to report"), nil, nil
	}
	for _, p := range []float64{0, 50, 100} {
		err := req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{
			ProgressToken: token,
			Progress:      p,
			Total:         100,
			Message:       fmt.Sprintf("%.0f%% done", p),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("notify progress %.0f: %w", p, err)
		}
	}
	return text(fmt.Sprint(token)), nil, nil
}

type samplingIn struct {
	Prompt string `json:"prompt" jsonschema:"the prompt to send to the client's LLM"`
}

func sampling(ctx context.Context, req *mcp.CallToolRequest, in samplingIn) (*mcp.CallToolResult, any, error) {
	res, err := req.Session.CreateMessage(ctx, &mcp.CreateMessageParams{
		Messages:  []*mcp.SamplingMessage{{Role: "user", Content: &mcp.TextContent{Text: in.Prompt}}},
		MaxTokens: 100,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("sampling: %w", err)
	}
	answer := "(no text in the answer)"
	if tc, ok := res.Content.(*mcp.TextContent); ok {
		answer = tc.Text
	}
	return text("LLM response: " + answer), nil, nil
}

type elicitationIn struct {
	Message string `json:"message" jsonschema:"the message to show the user"`
}

func elicitation(ctx context.Context, req *mcp.CallToolRequest, in elicitationIn) (*mcp.CallToolResult, any, error) {
	return elicit(ctx, req, in.Message, json.RawMessage(`{
		"type": "object",
		"properties": {
			"username": {"type": "string", "description": "User's response"},
			"email": {"type": "string", "description": "User's email address"}
		},
		"required": ["username", "email"]
	}`))
}

func elicitDefaults(ctx context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
	return elicit(ctx, req, "Please review these values (each has a default).", json.RawMessage(`{
		"type": "object",
		"properties": {
			"name": {"type": "string", "description": "User name", "default": "John Doe"},
			"age": {"type": "integer", "description": "User age", "default": 30},
			"score": {"type": "number", "description": "User score", "default": 95.5},
			"status": {"type": "string", "description": "User status", "enum": ["active", "inactive", "pending"], "default": "active"},
			"verified": {"type": "boolean", "description": "Verification status", "default": true}
		}
	}`))
}

func elicitEnums(ctx context.Context, req *mcp.CallToolRequest, _ none) (*mcp.CallToolResult, any, error) {
	return elicit(ctx, req, "Please pick from these lists.", json.RawMessage(`{
		"type": "object",
		"properties": {
			"untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
			"titledSingle": {"type": "string", "oneOf": [
				{"const": "value1", "title": "First Option"},
				{"const": "value2", "title": "Second Option"},
				{"const": "value3", "title": "Third Option"}
			]},
			"legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["Option One", "Option Two", "Option Three"]},
			"untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
			"titledMulti": {"type": "array", "items": {"anyOf": [
				{"const": "value1", "title": "First Choice"},
				{"const": "value2", "title": "Second Choice"},
				{"const": "value3", "title": "Third Choice"}
			]}}
		}
	}`))
}

// elicit asks the user to fill in schema and reports the answer.
func elicit(ctx context.Context, req *mcp.CallToolRequest, message string, schema json.RawMessage) (*mcp.CallToolResult, any, error) {
	res, err := req.Session.Elicit(ctx, &mcp.ElicitParams{Message: message, RequestedSchema: schema})
	if err != nil {
		return nil, nil, fmt.Errorf("elicitation: %w", err)
	}
	content, err := json.Marshal(res.Content)
	if err != nil {
		return nil, nil, fmt.Errorf("elicitation answer: %w", err)
	}
	return text(fmt.Sprintf("Elicitation completed: action=%s, content=%s", res.Action, content)), nil, nil
}
