package demoapi_test

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/identity/identitytest"
)

// TestSalesDollarsRounding checks the summary's dollars against JavaScript's
// (cents/100).toFixed(0), which rounds half up: the values in "want" are
// what node prints.
func TestSalesDollarsRounding(t *testing.T) {
	tests := []struct {
		cents int64
		want  string
	}{
		{0, "📊 Sales in Q2 2025: $0 across 3 won deals."},
		{49, "📊 Sales in Q2 2025: $0 across 3 won deals."},
		{50, "📊 Sales in Q2 2025: $1 across 3 won deals."},
		{149, "📊 Sales in Q2 2025: $1 across 3 won deals."},
		{150, "📊 Sales in Q2 2025: $2 across 3 won deals."},
		{250, "📊 Sales in Q2 2025: $3 across 3 won deals."},       // half up, not half to even
		{150049, "📊 Sales in Q2 2025: $1500 across 3 won deals."}, // the original's test figure
		{150050, "📊 Sales in Q2 2025: $1501 across 3 won deals."},
		{1234550, "📊 Sales in Q2 2025: $12346 across 3 won deals."},
		{1234599, "📊 Sales in Q2 2025: $12346 across 3 won deals."},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			fs := &fakeStore{
				Store: openStore(t, filepath.Join(t.TempDir(), "crm.sqlite")),
				sales: func(year, quarter int) store.Summary {
					return store.Summary{Year: year, Quarter: quarter, Range: store.QuarterRange(year, quarter), DealsWon: 3, RevenueCents: tt.cents}
				},
			}
			e := startEnv(t, identitytest.NewIssuer(t), fs)
			b := e.ok(t, e.token(t, "alice", nil), "crmGetSalesSummary", `{"year":2025,"quarter":2}`)
			require.Equal(t, tt.want, b["summary_text"])
			require.Equal(t, float64(tt.cents), b["summary"].(map[string]any)["revenue_cents"])
		})
	}
}

// TestStoreFailures checks the answers to storage errors: the typed ones as
// clear 4xx, anything else as a bare 500 whose details go to the log only.
func TestStoreFailures(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		tool   string
		args   string
		status int
		body   map[string]any
	}{
		{"too many notes on add", store.ErrTooManyNotes, "addNote", `{"text":"a"}`, 409,
			map[string]any{"ok": false, "error": "too_many_notes", "message": "a user may keep at most 500 notes"}},
		{"too many notes on seed", store.ErrTooManyNotes, "seedMyNotes", `{}`, 409,
			map[string]any{"ok": false, "error": "too_many_notes", "message": "a user may keep at most 500 notes"}},
		{"bad year from the store", store.ErrBadYear, "crmGetSalesSummary", `{"year":2025,"quarter":1}`, 400,
			map[string]any{"ok": false, "error": "invalid_input", "message": "year must be 2000..2100"}},
		{"database down on list", errDatabase, "listMyNotes", `{}`, 500, map[string]any{"ok": false, "error": "internal_error"}},
		{"database down on init", errDatabase, "crmInit", `{}`, 500, map[string]any{"ok": false, "error": "internal_error"}},
		{"database down on reset", errDatabase, "crmResetMyData", `{}`, 500, map[string]any{"ok": false, "error": "internal_error"}},
		{"database down on explain", errDatabase, "crmExplainAccess", `{}`, 500, map[string]any{"ok": false, "error": "internal_error"}},
		{"database down on summary", errDatabase, "crmGetSalesSummary", `{"year":2025,"quarter":1}`, 500, map[string]any{"ok": false, "error": "internal_error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := &fakeStore{Store: openStore(t, filepath.Join(t.TempDir(), "crm.sqlite"))}
			fs.setErr(tt.err)
			e := startEnv(t, identitytest.NewIssuer(t), fs)
			r := e.call(t, e.token(t, "alice", nil), tt.tool, tt.args)
			require.Equal(t, tt.status, r.status, r.raw)
			require.Equal(t, tt.body, r.body)
			require.NotContains(t, r.raw, "disk I/O")
			if tt.status == http.StatusInternalServerError {
				require.Contains(t, e.logs.String(), `"msg":"demoapi: tool failed"`)
				require.Contains(t, e.logs.String(), "disk I/O error")
			}
		})
	}
}

// TestTooManyNotes fills a user's notebook through the API.
func TestTooManyNotes(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, "alice", nil)
	for range store.MaxNotesPerUser / store.MaxSeedNotes {
		e.ok(t, tok, "seedMyNotes", `{"count":20}`)
	}
	r := e.call(t, tok, "addNote", `{"text":"one more"}`)
	require.Equal(t, http.StatusConflict, r.status)
	require.Equal(t, "too_many_notes", r.body["error"])
	// Bob is not affected.
	e.ok(t, e.token(t, "bob", nil), "addNote", `{"text":"fine"}`)
}
