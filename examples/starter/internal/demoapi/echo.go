package demoapi

import (
	"context"
	"fmt"
)

// EchoResult is echo's answer.
type EchoResult struct {
	// OK is true.
	OK bool `json:"ok"`
	// Message is the message, as sent.
	Message string `json:"message"`
	// Summary is the text for the model: "Echo: <message>".
	Summary string `json:"summary"`
}

// echoArgs are echo's arguments.
type echoArgs struct {
	Message *string `json:"message"`
}

// echo is the echo tool.
func (h *handler) echo(_ context.Context, c *call) (any, error) {
	var in echoArgs
	if err := c.bind(&in); err != nil {
		return nil, err
	}
	switch {
	case in.Message == nil:
		return nil, invalidInput("message is required")
	case len(*in.Message) > MaxEchoBytes:
		return nil, invalidInput(fmt.Sprintf("message must be at most %d bytes", MaxEchoBytes))
	}
	return EchoResult{OK: true, Message: *in.Message, Summary: "Echo: " + *in.Message}, nil
}
