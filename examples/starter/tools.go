package main

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/scopes"
)

// The tools' typed inputs. go-sdk derives each tool's JSON schema from them
// (the jsonschema tag is the description a model reads) and validates
// arguments against it; the backend checks the bounds again and says
// clearly what to change.
type (
	// noInput is the input of the tools that take no arguments.
	noInput struct{}

	echoInput struct {
		Message string `json:"message" jsonschema:"The text to echo back, at most 4096 bytes."`
	}
	seedNotesInput struct {
		Count *int `json:"count,omitempty" jsonschema:"How many demo notes to add, from 1 to 20. Default 3."`
	}
	addNoteInput struct {
		Text string `json:"text" jsonschema:"The note to save: 1 to 2000 bytes of text; surrounding spaces are removed."`
	}
	salesSummaryInput struct {
		Year    int `json:"year" jsonschema:"The calendar year, such as 2025 (2000 to 2100). The demo deals close in 2024 and 2025."`
		Quarter int `json:"quarter" jsonschema:"The quarter of the year: 1 (January to March), 2 (April to June), 3 (July to September) or 4 (October to December)."`
	}
	crossUserInput struct {
		TargetUser string `json:"targetUser" jsonschema:"The other user whose CRM data to try to read, such as bob or user-1a2b3c (at most 128 characters)."`
	}
)

// starterTool is one tool as the gateway serves it, over MCP and over REST
// alike: its name, the scope it needs, and run, the one function that
// carries out a call for a verified user.
type starterTool struct {
	name  string
	scope string
	// register adds the tool to an MCP server, with run as its handler.
	register func(srv *mcpserver.Server)
	// run carries out a call. args are the tool's arguments: its typed
	// input over MCP, the caller's JSON object over REST.
	run func(ctx context.Context, id *identity.Identity, args any) *outcome
}

// toolSpec describes a tool to a model.
type toolSpec struct {
	name, scope, title, description string
	readOnly, idempotent            bool
	destructive                     bool
}

// newTool returns the tool spec describes, whose calls go to the backend's
// tool of the same name, with input type In over MCP.
func newTool[In any](b *backend, spec toolSpec) *starterTool {
	t := &starterTool{name: spec.name, scope: spec.scope}
	t.run = func(ctx context.Context, id *identity.Identity, args any) *outcome {
		return b.call(ctx, id, spec.name, args)
	}
	closedWorld := false
	tool := &mcp.Tool{
		Name:        spec.name,
		Title:       spec.title,
		Description: spec.description,
		Annotations: &mcp.ToolAnnotations{
			Title:          spec.title,
			ReadOnlyHint:   spec.readOnly,
			IdempotentHint: spec.idempotent,
			OpenWorldHint:  &closedWorld,
		},
	}
	if !spec.readOnly {
		tool.Annotations.DestructiveHint = &spec.destructive
	}
	t.register = func(srv *mcpserver.Server) {
		mcpserver.AddTool(srv, tool, scopes.All(spec.scope),
			func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, any, error) {
				ctx = withRequestIDOf(ctx, req)
				o := t.run(ctx, mcpserver.IdentityFrom(req), in)
				return o.toolResult(spec.name)
			})
	}
	return t
}

// starterTools returns the ten tools of the TypeScript starter, with its
// names and scopes (demoapi.Tools), in its order.
func starterTools(b *backend) []*starterTool {
	return []*starterTool{
		newTool[noInput](b, toolSpec{
			name: "whoami", scope: demoapi.ScopeWhoami, title: "Who am I",
			description: "Show who the signed-in user is, as proven by their verified OAuth token: subject, email, " +
				"issuer, audience, granted scopes and when the token expires. Use it to check which account is connected.",
			readOnly: true, idempotent: true,
		}),
		newTool[echoInput](b, toolSpec{
			name: "echo", scope: demoapi.ScopeEcho, title: "Echo",
			description: "Send a message and get it back unchanged, to check that the connection and the sign-in work.",
			readOnly:    true, idempotent: true,
		}),
		newTool[seedNotesInput](b, toolSpec{
			name: "seedMyNotes", scope: demoapi.ScopeNotes, title: "Add demo notes",
			description: "Add a few demo notes to the signed-in user's private notes, to try the notes tools. " +
				"Only this user can see them. A user keeps at most 500 notes.",
		}),
		newTool[noInput](b, toolSpec{
			name: "listMyNotes", scope: demoapi.ScopeNotes, title: "List my notes",
			description: "List the signed-in user's own notes, newest first. Other users' notes are never included.",
			readOnly:    true, idempotent: true,
		}),
		newTool[addNoteInput](b, toolSpec{
			name: "addNote", scope: demoapi.ScopeNotes, title: "Add a note",
			description: "Save a new note for the signed-in user. Only this user can read it back (listMyNotes).",
		}),
		newTool[noInput](b, toolSpec{
			name: "crmInit", scope: demoapi.ScopeCRM, title: "Set up my demo CRM",
			description: "Create the signed-in user's demo CRM if it does not exist yet: 40 to 79 sample deals generated " +
				"for this user alone, always the same ones. Safe to call again. Then ask for sales by quarter.",
			idempotent: true,
		}),
		newTool[salesSummaryInput](b, toolSpec{
			name: "crmGetSalesSummary", scope: demoapi.ScopeCRM, title: "Sales in a quarter",
			description: "Total the signed-in user's won deals that closed in one quarter of a year, from their own demo " +
				"CRM: how many deals were won and the revenue in dollars. Call crmInit first if the user has no data.",
			readOnly: true, idempotent: true,
		}),
		newTool[noInput](b, toolSpec{
			name: "crmExplainAccess", scope: demoapi.ScopeCRM, title: "Explain my CRM access",
			description: "Explain which CRM data the signed-in user can and cannot access, and why: every query is keyed " +
				"to the identity proven by their token. Creates the user's demo CRM if needed.",
			idempotent: true,
		}),
		newTool[crossUserInput](b, toolSpec{
			name: "crmAttemptCrossUserRead", scope: demoapi.ScopeCRM, title: "Try to read another user's CRM",
			description: "Try to read another user's CRM data, to see that it is impossible: the answer explains the " +
				"denial. No tool accepts a user id, so only the caller's own data can ever be reached.",
			readOnly: true, idempotent: true,
		}),
		newTool[noInput](b, toolSpec{
			name: "crmResetMyData", scope: demoapi.ScopeCRM, title: "Reset my demo CRM",
			description: "Delete the signed-in user's demo CRM deals and generate them again; the figures come back " +
				"exactly as they were first seeded. Notes are not touched.",
			destructive: true, idempotent: true,
		}),
	}
}
