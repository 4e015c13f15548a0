package everything

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/mcpserver"
)

// Scopes the tools declare.
const (
	// ScopeContent is needed by the tools that only return content:
	// test_simple_text, test_image_content, test_audio_content,
	// test_embedded_resource, test_multiple_content_types,
	// json_schema_2020_12_tool and test_reconnection (which returns its
	// content on a resumed stream).
	ScopeContent = "everything:content"
	// ScopeNotify is needed by the tools that send notifications while
	// they run: test_tool_with_logging and test_tool_with_progress.
	ScopeNotify = "everything:notify"
	// ScopeClient is needed by the tools that send requests to the client:
	// test_sampling, test_elicitation, test_elicitation_sep1034_defaults
	// and test_elicitation_sep1330_enums.
	ScopeClient = "everything:client"
)

// Scopes returns every scope the server's tools declare: a token with all
// of them may list and call every tool. (test_error_handling needs none.)
func Scopes() []string { return []string{ScopeClient, ScopeContent, ScopeNotify} }

// New returns an mcpserver.Server configured by cfg, with the tools,
// resources, prompts and handlers the conformance scenarios call. It sets
// the completion and resource-subscription handlers of cfg.ServerOptions
// (copying it) and fails when cfg already sets one of them, or when
// mcpserver.New fails. Unless cfg is Stateless or sets its own, it gives
// the server an event store (mcp.NewMemoryEventStore), so that streams are
// resumable, as test_reconnection needs.
func New(cfg mcpserver.Config) (*mcpserver.Server, error) {
	var opts mcp.ServerOptions
	if cfg.ServerOptions != nil {
		opts = *cfg.ServerOptions
	}
	if opts.CompletionHandler != nil || opts.SubscribeHandler != nil || opts.UnsubscribeHandler != nil {
		return nil, fmt.Errorf("everything: Config.ServerOptions must not set CompletionHandler, SubscribeHandler or UnsubscribeHandler: the server brings its own")
	}
	opts.CompletionHandler = complete
	opts.SubscribeHandler = func(_ context.Context, req *mcp.SubscribeRequest) error { return checkSubscribable(req.Params.URI) }
	opts.UnsubscribeHandler = func(_ context.Context, req *mcp.UnsubscribeRequest) error { return checkSubscribable(req.Params.URI) }
	cfg.ServerOptions = &opts
	if cfg.EventStore == nil && !cfg.Stateless {
		cfg.EventStore = mcp.NewMemoryEventStore(nil)
	}

	srv, err := mcpserver.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("everything: %w", err)
	}
	addTools(srv, cfg.EventStore != nil)
	addResources(srv.MCPServer())
	addPrompts(srv.MCPServer())
	return srv, nil
}

// checkSubscribable accepts subscriptions to the server's fixed resources.
// go-sdk keeps the subscription itself.
func checkSubscribable(uri string) error {
	if !slices.Contains(staticResourceURIs(), uri) {
		return mcp.ResourceNotFoundError(uri)
	}
	return nil
}

// completionCandidates are the values offered for any prompt argument.
func completionCandidates() []string {
	return []string{"paris", "park", "party", "test", "testValue1", "testValue2"}
}

// complete answers completion/complete for the arguments of the server's
// prompts with the candidates that start with what was typed.
func complete(_ context.Context, req *mcp.CompleteRequest) (*mcp.CompleteResult, error) {
	p := req.Params
	if p == nil || p.Ref == nil {
		return nil, fmt.Errorf("completion without a reference")
	}
	values := []string{}
	if p.Ref.Type == "ref/prompt" && isPrompt(p.Ref.Name) {
		for _, c := range completionCandidates() {
			if strings.HasPrefix(c, p.Argument.Value) {
				values = append(values, c)
			}
		}
	}
	return &mcp.CompleteResult{Completion: mcp.CompletionResultDetails{Values: values, Total: len(values)}}, nil
}
