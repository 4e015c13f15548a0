package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/examples/starter/internal/demoapi"
	"github.com/idgate/idgate/proxy"
)

// outcomeKind says how a tool call ended.
type outcomeKind int

const (
	// done: the backend answered 2xx with a result.
	done outcomeKind = iota
	// refused: the backend answered 2xx with "ok":false, explaining a
	// refusal to the model (crmAttemptCrossUserRead).
	refused
	// rejected: the backend answered non-2xx (a bad input, a full notes
	// list, or a failure of its own).
	rejected
	// unreachable: no answer (connection refused, reset, or a bad answer).
	unreachable
	// timedOut: no answer in time.
	timedOut
	// internal: the call could not be made (no identity, signing failed).
	internal
)

// maxFallbackTextBytes bounds the JSON shown to the model when a result
// has no text of its own, as the TypeScript starter did.
const maxFallbackTextBytes = 800

// outcome is the end of one tool call, whichever way it ended. Both the MCP
// result and the REST answer are made from it.
type outcome struct {
	kind outcomeKind
	// raw is the backend's JSON body when it is an object (a result, or an
	// error body), else nil.
	raw json.RawMessage
	// body is raw decoded.
	body map[string]any
	// status is the backend's HTTP status; 0 without an answer.
	status int
	// code and message are the backend's error code and message, for
	// rejected ("invalid_input", "quarter must be 1..4") and refused.
	code, message string
	// requestID is the request id sent to the backend.
	requestID string
}

// newOutcome makes the outcome of a call from the backend's 2xx body raw or
// the error err of proxy.Client.Do.
func newOutcome(ctx context.Context, raw json.RawMessage, err error) *outcome {
	o := &outcome{requestID: requestIDFrom(ctx)}
	var pe *proxy.Error
	switch {
	case err == nil:
		o.status = http.StatusOK
		o.setBody(raw)
		if o.body == nil {
			o.kind = unreachable // a 2xx that is not a JSON object
			return o
		}
		if ok, isBool := o.body["ok"].(bool); isBool && !ok {
			o.kind = refused
			o.code, _ = o.body["error"].(string)
		}
	case errors.As(err, &pe):
		o.kind, o.status = rejected, pe.Status
		if !pe.Truncated {
			o.setBody(pe.Body)
		}
		o.code, _ = o.body["error"].(string)
		o.message, _ = o.body["message"].(string)
	case errors.Is(err, context.DeadlineExceeded):
		o.kind = timedOut
	case errors.Is(err, proxy.ErrNoIdentity), errors.Is(err, proxy.ErrSignFailed), errors.Is(err, proxy.ErrBadPath):
		o.kind = internal
	default:
		o.kind = unreachable
	}
	return o
}

// setBody keeps b when it is a JSON object.
func (o *outcome) setBody(b []byte) {
	var m map[string]any
	if json.Unmarshal(b, &m) == nil && m != nil {
		o.raw, o.body = json.RawMessage(bytes.Clone(b)), m
	}
}

// text is what the model reads about the outcome of tool name: the
// backend's own text for a result or a refusal, else one sentence saying
// what went wrong and what to do.
func (o *outcome) text(name string) string {
	switch o.kind {
	case done, refused:
		if t := demoapi.ModelText(o.body); t != "" {
			return t
		}
		if o.kind == refused {
			return fmt.Sprintf("%s was refused: %s", name, firstBytes(string(o.raw), maxFallbackTextBytes))
		}
		return firstBytes(string(o.raw), maxFallbackTextBytes)
	case rejected:
		s := fmt.Sprintf("%s failed: the backend answered %d", name, o.status)
		switch {
		case o.code != "" && o.message != "":
			s += " " + o.code + ": " + o.message
		case o.code != "":
			s += " " + o.code
		default:
			s += " " + strings.ToLower(http.StatusText(o.status))
		}
		if o.status >= 500 || o.status == http.StatusUnauthorized || o.status == http.StatusForbidden {
			s += fmt.Sprintf(". This is a server problem, not a problem with the request; the log has details (request id %s).", o.requestID)
		}
		return s
	case timedOut:
		return fmt.Sprintf("%s failed: the backend did not answer in time; try again later (request id %s).", name, o.requestID)
	case unreachable:
		return fmt.Sprintf("%s failed: the backend could not be reached; try again later (request id %s).", name, o.requestID)
	default:
		return fmt.Sprintf("%s failed: the gateway could not call the backend; the log has details (request id %s).", name, o.requestID)
	}
}

// toolResult is the MCP result of the outcome of tool name: its text, and
// the backend's JSON object as structuredContent. Anything but a result is
// a tool error (isError), which a model reads and can act on.
func (o *outcome) toolResult(name string) (*mcp.CallToolResult, any, error) {
	res := &mcp.CallToolResult{
		Content: []mcp.Content{&mcp.TextContent{Text: o.text(name)}},
		IsError: o.kind != done,
	}
	if o.raw == nil {
		return res, nil, nil
	}
	return res, o.raw, nil
}

// firstBytes returns at most n bytes of s, cut at a character boundary.
func firstBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
