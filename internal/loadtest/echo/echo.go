// Package echo is the tool every MCP server of the load harness serves, so
// that they differ only in what surrounds it: "echo" returns its message
// as text.
package echo

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Name is the tool's name.
const Name = "echo"

// Scope is the scope the authenticated servers require for the tool.
const Scope = "echo"

// Input is the tool's arguments.
type Input struct {
	// Message is echoed back.
	Message string `json:"message"`
}

// Tool is the tool's declaration.
func Tool() *mcp.Tool {
	return &mcp.Tool{Name: Name, Description: "Echo a message back"}
}

// Handler is the tool: it answers "Echo: <message>" as text content.
func Handler(_ context.Context, _ *mcp.CallToolRequest, in Input) (*mcp.CallToolResult, any, error) {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "Echo: " + in.Message}}}, nil, nil
}
