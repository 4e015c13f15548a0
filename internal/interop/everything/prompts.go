package everything

import (
	"context"
	"fmt"
	"slices"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Prompt names.
const (
	promptSimple    = "test_simple_prompt"
	promptArgs      = "test_prompt_with_arguments"
	promptEmbedded  = "test_prompt_with_embedded_resource"
	promptWithImage = "test_prompt_with_image"
)

func isPrompt(name string) bool {
	return slices.Contains([]string{promptSimple, promptArgs, promptEmbedded, promptWithImage}, name)
}

// addPrompts registers the prompts.
func addPrompts(s *mcp.Server) {
	s.AddPrompt(&mcp.Prompt{Name: promptSimple, Title: "Simple prompt", Description: "A prompt without arguments."},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return messages("A simple prompt", &mcp.TextContent{Text: "This is a simple prompt for testing."}), nil
		})
	s.AddPrompt(&mcp.Prompt{
		Name: promptArgs, Title: "Prompt with arguments", Description: "A prompt with two required arguments.",
		Arguments: []*mcp.PromptArgument{
			{Name: "arg1", Description: "First argument", Required: true},
			{Name: "arg2", Description: "Second argument", Required: true},
		},
	}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		a := req.Params.Arguments
		return messages("A prompt with arguments", &mcp.TextContent{
			Text: fmt.Sprintf("Prompt with arguments: arg1='%s', arg2='%s'", a["arg1"], a["arg2"]),
		}), nil
	})
	s.AddPrompt(&mcp.Prompt{
		Name: promptEmbedded, Title: "Prompt with an embedded resource", Description: "A prompt that embeds the resource it is given.",
		Arguments: []*mcp.PromptArgument{{Name: "resourceUri", Description: "URI of the resource to embed", Required: true}},
	}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
		uri := req.Params.Arguments["resourceUri"]
		if uri == "" {
			return nil, fmt.Errorf("argument resourceUri is required")
		}
		return messages("A prompt with an embedded resource",
			&mcp.EmbeddedResource{Resource: &mcp.ResourceContents{URI: uri, MIMEType: "text/plain", Text: "Embedded resource content for testing."}},
			&mcp.TextContent{Text: "Please process the embedded resource above."},
		), nil
	})
	s.AddPrompt(&mcp.Prompt{Name: promptWithImage, Title: "Prompt with an image", Description: "A prompt that carries an image."},
		func(context.Context, *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			return messages("A prompt with an image",
				&mcp.ImageContent{Data: samplePNG(), MIMEType: pngType},
				&mcp.TextContent{Text: "Please analyze the image above."},
			), nil
		})
}

// messages is a prompt result of user messages, one per content block.
func messages(description string, blocks ...mcp.Content) *mcp.GetPromptResult {
	res := &mcp.GetPromptResult{Description: description}
	for _, b := range blocks {
		res.Messages = append(res.Messages, &mcp.PromptMessage{Role: "user", Content: b})
	}
	return res
}
