package demoapi_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
)

// TestTwoUsersConcurrently runs alice and bob side by side (run it with
// -race): each adds notes and reads CRM figures, and neither ever sees the
// other's.
func TestTwoUsersConcurrently(t *testing.T) {
	e := newEnv(t)
	users := []string{"auth0|alice", "auth0|bob"}
	aliceDeals, aliceCents := expectedSales(users[0], 2025, 2)
	bobDeals, bobCents := expectedSales(users[1], 2025, 2)
	require.False(t, aliceDeals == bobDeals && aliceCents == bobCents, "the two users must have different figures for the test to mean anything")

	const workers, rounds = 4, 5
	var wg sync.WaitGroup
	for _, sub := range users {
		tok := e.token(t, sub, nil)
		wantDeals, wantCents := expectedSales(sub, 2025, 2)
		wantText := fmt.Sprintf("📊 Sales in Q2 2025: $%d across %d won deals.", (wantCents+50)/100, wantDeals)
		for w := range workers {
			wg.Go(func() {
				for i := range rounds {
					if _, ok := e.callStatus(t, tok, "addNote", fmt.Sprintf(`{"text":"%s note %d.%d"}`, sub, w, i), http.StatusOK); !ok {
						return
					}
					r, ok := e.callStatus(t, tok, "listMyNotes", "{}", http.StatusOK)
					if !ok {
						return
					}
					for _, n := range r.body["notes"].([]any) {
						if text := n.(map[string]any)["text"].(string); !strings.HasPrefix(text, sub+" note ") {
							t.Errorf("%s sees note %q", sub, text)
						}
					}
					r, ok = e.callStatus(t, tok, "crmGetSalesSummary", `{"year":2025,"quarter":2}`, http.StatusOK)
					if !ok {
						return
					}
					if got := r.body["summary_text"]; got != wantText {
						t.Errorf("%s: summary %q, want %q", sub, got, wantText)
					}
					if i == 2 { // a reset in the middle changes nothing
						e.callStatus(t, tok, "crmResetMyData", "{}", http.StatusOK)
					}
				}
			})
		}
	}
	wg.Wait()

	for _, sub := range users {
		b := e.ok(t, e.token(t, sub, nil), "listMyNotes", "{}")
		require.Equal(t, fmt.Sprintf("You have %d notes.", workers*rounds), b["summary"], sub)
	}
	crm := e.ok(t, e.token(t, users[0], nil), "crmInit", "{}")
	require.Equal(t, float64(2), crm["welcome"].(map[string]any)["dbUsers"])
}

// TestCrossUserReadNeverLeaks has bob aim crmAttemptCrossUserRead at alice
// in every way he could name her: the answer holds nothing of hers, is the
// same whether the target exists or not, and touches no storage.
func TestCrossUserReadNeverLeaks(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	fs := &fakeStore{Store: openStore(t, filepath.Join(t.TempDir(), "crm.sqlite"))}
	e := startEnv(t, iss, fs)
	alice := e.token(t, "auth0|alice", nil, identitytest.Email("alice@example.com"))
	e.ok(t, alice, "crmInit", "{}")
	e.ok(t, alice, "addNote", `{"text":"alice's secret plan"}`)
	aliceSales := e.ok(t, alice, "crmGetSalesSummary", `{"year":2025,"quarter":2}`)["summary"].(map[string]any)
	aliceLabel := labelOf("auth0|alice")
	bob := e.token(t, "auth0|bob", nil)
	bobLabel := labelOf("auth0|bob")

	// The same answer, but for the echoed target, whether the target is an
	// existing user's subject, label or email, or no one; and no storage
	// touched at all.
	calls := fs.calls.Load()
	var answers []map[string]any
	for _, target := range []string{"auth0|alice", aliceLabel, "alice@example.com", "nobody-at-all"} {
		r := e.call(t, bob, "crmAttemptCrossUserRead", fmt.Sprintf(`{"targetUser":%q}`, target))
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, false, r.body["ok"])
		require.Equal(t, target, r.body["requested_target"])
		require.Equal(t, bobLabel, r.body["actual_scope"])
		for _, secret := range []string{"secret plan", fmt.Sprint(aliceSales["revenue_cents"])} {
			require.NotContains(t, r.raw, secret)
		}
		if target != aliceLabel {
			require.NotContains(t, r.raw, aliceLabel)
		}
		delete(r.body, "requested_target")
		r.body["summary"] = strings.ReplaceAll(r.body["summary"].(string), target, "TARGET")
		answers = append(answers, r.body)
	}
	for _, a := range answers[1:] {
		require.Equal(t, answers[0], a)
	}
	require.Equal(t, calls, fs.calls.Load(), "crmAttemptCrossUserRead must not touch the store")

	// Bob's own tools see only bob.
	require.Equal(t, []any{}, e.ok(t, bob, "listMyNotes", "{}")["notes"])
	b := e.ok(t, bob, "crmGetSalesSummary", `{"year":2025,"quarter":2}`)
	require.Equal(t, bobLabel, b["user"])
	deals, cents := expectedSales("auth0|bob", 2025, 2)
	require.Equal(t, map[string]any{"year": float64(2025), "quarter": float64(2), "deals_won": float64(deals), "revenue_cents": float64(cents),
		"range": map[string]any{"start": "2025-04-01", "endExclusive": "2025-07-01"}}, b["summary"])
	require.NotContains(t, fmt.Sprint(e.ok(t, bob, "whoami", "{}")), "alice")
}

// TestDeterministicFigures checks that a user's figures survive a reset and
// a restart on the same database, and equal store.SeedDeals' (the
// TypeScript starter's).
func TestDeterministicFigures(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	path := filepath.Join(t.TempDir(), "crm.sqlite")
	e := startEnv(t, iss, openStore(t, path))
	tok := e.token(t, "auth0|dora", nil)

	summaries := func(e *env) []any {
		var out []any
		for _, yq := range [][2]int{{2024, 1}, {2024, 4}, {2025, 2}, {2025, 3}} {
			b := e.ok(t, tok, "crmGetSalesSummary", fmt.Sprintf(`{"year":%d,"quarter":%d}`, yq[0], yq[1]))
			deals, cents := expectedSales("auth0|dora", yq[0], yq[1])
			require.Equal(t, fmt.Sprintf("📊 Sales in Q%d %d: $%d across %d won deals.", yq[1], yq[0], (cents+50)/100, deals), b["summary_text"])
			out = append(out, b)
		}
		return out
	}
	first := summaries(e)
	e.ok(t, tok, "crmResetMyData", "{}")
	require.Equal(t, first, summaries(e))

	restarted := startEnv(t, iss, openStore(t, path))
	require.Equal(t, first, summaries(restarted))
	e.ok(t, tok, "crmResetMyData", "{}")
	require.Equal(t, first, summaries(restarted))
}
