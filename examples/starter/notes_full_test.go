package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/store"
)

// TestFullNotesStillList fills a user's notes to the cap with the longest
// notes the tools accept, written as the characters JSON escapes the most
// (a control character becomes six bytes), and checks that listMyNotes
// still returns every one of them, over MCP and over REST: a user whom
// the store lets keep MaxNotesPerUser notes must be able to read them
// back, and no tool can delete one.
func TestFullNotesStillList(t *testing.T) {
	e := newTestEnv(t, nil)
	tok := e.mint("alice", allScopes...)
	key := store.UserKey([]byte(testSalt), "alice")
	text := strings.Repeat("\x01", store.MaxNoteBytes-2) + "\"\\"
	for range store.MaxNotesPerUser - 1 {
		_, err := e.app.store.AddNote(t.Context(), key, text)
		require.NoError(t, err)
	}
	// The last one through the tool: it accepts such a note.
	body := fmt.Sprintf(`{"text":%q}`, text)
	r := e.do("POST", "/tools/addNote", strings.ReplaceAll(body, `\x01`, `\u0001`), auth(tok)...)
	require.Equal(t, 200, r.status, r.raw)

	res := callTool(t, e.connect(tok), "listMyNotes", map[string]any{})
	require.False(t, res.IsError, textOf(t, res))
	require.Equal(t, fmt.Sprintf("You have %d notes.", store.MaxNotesPerUser), textOf(t, res))
	notes := structuredOf(t, res)["notes"].([]any)
	require.Len(t, notes, store.MaxNotesPerUser)
	require.Equal(t, text, notes[0].(map[string]any)["text"])

	r = e.do("POST", "/tools/listMyNotes", "", auth(tok)...)
	require.Equal(t, 200, r.status, firstBytes(r.raw, 300))
	require.Len(t, r.body["data"].(map[string]any)["notes"], store.MaxNotesPerUser)
}
