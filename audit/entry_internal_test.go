package audit

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEntryIgnoresSetsAfterFinish(t *testing.T) {
	var e Entry
	e.SetIdentity("alice", "iss", "cli")
	e.SetMCP("tools/call", "notes")
	e.SetDecision(Allow, "")
	e.SetArgs("a")
	var first Event
	e.finish(&first)
	require.Equal(t, Event{Subject: "alice", Issuer: "iss", ClientID: "cli", MCPMethod: "tools/call", Tool: "notes", Decision: Allow, Args: "a"}, first)

	e.SetIdentity("mallory", "x", "y")
	e.SetMCP("tools/list", "")
	e.SetDecision(Deny, "late")
	e.SetArgs("b")
	var second Event
	e.finish(&second)
	require.Equal(t, first, second)
}

func TestEntryDecision(t *testing.T) {
	var e Entry
	d, reason := e.Decision()
	require.Equal(t, Decision(""), d)
	require.Empty(t, reason)
	e.SetDecision(Deny, "unknown_tool")
	d, reason = e.Decision()
	require.Equal(t, Deny, d)
	require.Equal(t, "unknown_tool", reason)
	e.SetDecision(Allow, "")
	d, reason = e.Decision()
	require.Equal(t, Allow, d)
	require.Empty(t, reason, "the last call wins")
}
