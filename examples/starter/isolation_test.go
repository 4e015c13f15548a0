package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTwoUsersConcurrently has alice and bob use the notes and the CRM at
// the same time (run it with -race): neither ever sees the other's notes or
// figures, over MCP or REST.
func TestTwoUsersConcurrently(t *testing.T) {
	e := newTestEnv(t, nil)
	const notesEach = 12
	users := []string{"alice", "bob"}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, u := range users {
		tok := e.mint(u, allScopes...)
		cs := e.connect(tok)
		wg.Add(2)
		go func() { // MCP
			defer wg.Done()
			for i := range notesEach {
				res := callTool(t, cs, "addNote", map[string]any{"text": fmt.Sprintf("%s note %d", u, i)})
				if res.IsError {
					errs <- fmt.Errorf("%s addNote: %s", u, textOf(t, res))
				}
			}
			res := callTool(t, cs, "crmGetSalesSummary", map[string]any{"year": 2024, "quarter": 3})
			won, cents := salesOf(u, 2024, 3)
			if want := fmt.Sprintf("📊 Sales in Q3 2024: $%d across %d won deals.", (cents+50)/100, won); textOf(t, res) != want {
				errs <- fmt.Errorf("%s sales: %q, want %q", u, textOf(t, res), want)
			}
		}()
		go func() { // REST, at the same time
			defer wg.Done()
			r := e.do("POST", "/tools/crmInit", "", auth(tok)...)
			if r.status != 200 {
				errs <- fmt.Errorf("%s crmInit: %d %s", u, r.status, r.raw)
			}
			r = e.do("POST", "/tools/seedMyNotes", `{"count":3}`, auth(tok)...)
			if r.status != 200 {
				errs <- fmt.Errorf("%s seedMyNotes: %d %s", u, r.status, r.raw)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for _, u := range users {
		t.Run(u, func(t *testing.T) {
			tok := e.mint(u, allScopes...)
			res := callTool(t, e.connect(tok), "listMyNotes", map[string]any{})
			require.Equal(t, fmt.Sprintf("You have %d notes.", notesEach+3), textOf(t, res))
			other := "bob"
			if u == "bob" {
				other = "alice"
			}
			for _, n := range structuredOf(t, res)["notes"].([]any) {
				text := n.(map[string]any)["text"].(string)
				require.NotContains(t, text, other)
				require.True(t, strings.HasPrefix(text, u+" note") || strings.Contains(text, labelOf(u)), text)
			}
			// Each sees only their own CRM: the label and the figures are theirs.
			r := e.do("POST", "/tools/crmGetSalesSummary", `{"year":2025,"quarter":1}`, auth(tok)...)
			require.Equal(t, 200, r.status, r.raw)
			data := r.body["data"].(map[string]any)
			require.Equal(t, labelOf(u), data["user"])
			won, cents := salesOf(u, 2025, 1)
			require.Equal(t, float64(won), data["summary"].(map[string]any)["deals_won"])
			require.Equal(t, float64(cents), data["summary"].(map[string]any)["revenue_cents"])
		})
	}
	a1, _ := salesOf("alice", 2025, 1)
	b1, _ := salesOf("bob", 2025, 1)
	_, ac := salesOf("alice", 2024, 3)
	_, bc := salesOf("bob", 2024, 3)
	require.False(t, a1 == b1 && ac == bc, "the two users' demo data must differ for this test to mean anything")
}

// TestSeedingIsDeterministic checks that a user gets the same figures after
// a restart on the same database, after a reset, and on a fresh database.
func TestSeedingIsDeterministic(t *testing.T) {
	db := t.TempDir() + "/crm.sqlite"
	summary := func(e *testEnv, tool string) string {
		cs := e.connect(e.mint("alice", allScopes...))
		if tool != "" {
			res := callTool(t, cs, tool, map[string]any{})
			require.False(t, res.IsError, textOf(t, res))
		}
		return textOf(t, callTool(t, cs, "crmGetSalesSummary", map[string]any{"year": 2025, "quarter": 3}))
	}
	won, cents := salesOf("alice", 2025, 3)
	want := fmt.Sprintf("📊 Sales in Q3 2025: $%d across %d won deals.", (cents+50)/100, won)

	first := newTestEnv(t, map[string]string{"CRM_DB_PATH": db})
	require.Equal(t, want, summary(first, "crmInit"))
	require.Equal(t, want, summary(first, "crmResetMyData"), "after a reset")
	first.srv.Close()
	require.NoError(t, first.app.Close(t.Context()))

	again := newTestEnv(t, map[string]string{"CRM_DB_PATH": db})
	require.Equal(t, want, summary(again, ""), "after a restart on the same database")
	res := callTool(t, again.connect(again.mint("alice", allScopes...)), "crmInit", map[string]any{})
	require.Contains(t, textOf(t, res), "Your demo CRM is ready.", "the data survived the restart")

	fresh := newTestEnv(t, nil)
	require.Equal(t, want, summary(fresh, ""), "on a fresh database")
}

// TestBoundedInputs checks that out-of-range inputs get tool errors that say
// what to change, from the backend, once (never "failed: … failed:").
func TestBoundedInputs(t *testing.T) {
	e := newTestEnv(t, nil)
	cs := e.connect(e.mint("alice", allScopes...))
	tests := []struct {
		name string
		tool string
		args map[string]any
		text string // exact tool error text
	}{
		{"echo too long", "echo", map[string]any{"message": strings.Repeat("x", 4097)},
			"echo failed: the backend answered 400 invalid_input: message must be at most 4096 bytes"},
		{"seed count too high", "seedMyNotes", map[string]any{"count": 21},
			"seedMyNotes failed: the backend answered 400 invalid_input: count must be 1..20"},
		{"seed count zero", "seedMyNotes", map[string]any{"count": 0},
			"seedMyNotes failed: the backend answered 400 invalid_input: count must be 1..20"},
		{"empty note", "addNote", map[string]any{"text": "   "},
			"addNote failed: the backend answered 400 missing_text: text is required"},
		{"note too long", "addNote", map[string]any{"text": strings.Repeat("n", 2001)},
			"addNote failed: the backend answered 400 note_too_long: text must be at most 2000 bytes"},
		{"quarter 5", "crmGetSalesSummary", map[string]any{"year": 2025, "quarter": 5},
			"crmGetSalesSummary failed: the backend answered 400 invalid_input: quarter must be 1..4"},
		{"quarter 0", "crmGetSalesSummary", map[string]any{"year": 2025, "quarter": 0},
			"crmGetSalesSummary failed: the backend answered 400 invalid_input: quarter must be 1..4"},
		{"year 1999", "crmGetSalesSummary", map[string]any{"year": 1999, "quarter": 1},
			"crmGetSalesSummary failed: the backend answered 400 invalid_input: year must be 2000..2100"},
		{"target too long", "crmAttemptCrossUserRead", map[string]any{"targetUser": strings.Repeat("b", 129)},
			"crmAttemptCrossUserRead failed: the backend answered 400 invalid_input: targetUser must be at most 128 characters"},
		{"empty target", "crmAttemptCrossUserRead", map[string]any{"targetUser": ""},
			"crmAttemptCrossUserRead failed: the backend answered 400 invalid_input: targetUser is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := callTool(t, cs, tt.tool, tt.args)
			require.True(t, res.IsError)
			require.Equal(t, tt.text, textOf(t, res))
			sc := structuredOf(t, res)
			require.Equal(t, false, sc["ok"], "the backend's error body is the structured content")
		})
	}

	// Arguments that do not fit the schema are refused by go-sdk before
	// the backend is called, also as tool errors.
	schemaErrors := []struct {
		name, tool string
		args       map[string]any
		mention    string
	}{
		{"missing quarter", "crmGetSalesSummary", map[string]any{"year": 2025}, "quarter"},
		{"year as text", "crmGetSalesSummary", map[string]any{"year": "2025", "quarter": 1}, "year"},
		{"unknown argument", "echo", map[string]any{"message": "x", "userId": "bob"}, "userId"},
		{"missing message", "echo", map[string]any{}, "message"},
	}
	for _, tt := range schemaErrors {
		t.Run(tt.name, func(t *testing.T) {
			res := callTool(t, cs, tt.tool, tt.args)
			require.True(t, res.IsError)
			require.Contains(t, textOf(t, res), tt.mention)
		})
	}
}
