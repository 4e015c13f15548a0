package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// referenceOutput is what testdata/seed_reference.mjs prints.
type referenceOutput struct {
	Deals map[string][]struct {
		Account     string `json:"account"`
		AmountCents int64  `json:"amount_cents"`
		CloseDate   string `json:"close_date"`
		Stage       string `json:"stage"`
	} `json:"deals"`
	RNG   map[string][]float64 `json:"rng"`
	Round [][2]float64         `json:"round"`
}

// runReference runs the JavaScript reference generator under node.
func runReference(t *testing.T, keys ...string) referenceOutput {
	t.Helper()
	node, err := exec.LookPath("node")
	require.NoError(t, err, "node is required: these tests compare the Go seeding with testdata/seed_reference.mjs run by node (install Node.js)")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append([]string{"testdata/seed_reference.mjs"}, keys...)...)
	out, err := cmd.Output()
	require.NoError(t, err, "node testdata/seed_reference.mjs: %s", out)
	var ref referenceOutput
	require.NoError(t, json.Unmarshal(out, &ref))
	return ref
}

func referenceKeys() []string {
	salt := []byte("seed-reference salt")
	keys := []string{
		UserKey(salt, "alice"),
		UserKey(salt, "bob"),
		UserKey(salt, "auth0|64f1c0ffee"),
		UserKey([]byte("another salt"), "alice"),
		UserKey(nil, ""),
		"0000000000000000000000000000000000000000000000000000000000000000",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	}
	for i := range 50 {
		keys = append(keys, UserKey(salt, fmt.Sprintf("user-%d", i)))
	}
	return keys
}

func TestSeedDealsMatchReference(t *testing.T) {
	keys := referenceKeys()
	ref := runReference(t, keys...)
	sizes := map[int]bool{}
	for _, k := range keys {
		want, ok := ref.Deals[k]
		require.True(t, ok, "reference has no deals for %s", k)
		got := SeedDeals(k)
		require.Len(t, got, len(want), "deal count for %s", k)
		require.GreaterOrEqual(t, len(got), 40)
		require.Less(t, len(got), 80)
		sizes[len(got)] = true
		for i := range got {
			require.Equal(t, want[i].Account, got[i].Account, "key %s deal %d account", k, i)
			require.Equal(t, want[i].AmountCents, got[i].AmountCents, "key %s deal %d amount", k, i)
			require.Equal(t, want[i].CloseDate, got[i].CloseDate, "key %s deal %d close date", k, i)
			require.Equal(t, want[i].Stage, got[i].Stage, "key %s deal %d stage", k, i)
		}
	}
	require.Greater(t, len(sizes), 1, "the keys should not all give the same deal count")
}

func TestMulberry32MatchesReference(t *testing.T) {
	keys := referenceKeys()
	ref := runReference(t, keys...)
	for _, k := range keys {
		want := ref.RNG[k]
		require.Len(t, want, 8)
		r := rngFor(k)
		for i, w := range want {
			require.Equal(t, w, r.next(), "key %s draw %d", k, i)
		}
	}
}

func TestJSRoundMatchesMathRound(t *testing.T) {
	ref := runReference(t)
	require.NotEmpty(t, ref.Round)
	for _, row := range ref.Round {
		require.Equal(t, row[1], jsRound(row[0]), "Math.round(%v)", row[0])
	}
	// Where Go's math.Round differs: halves of negatives round up.
	require.Equal(t, -2.0, jsRound(-2.5))
	require.Equal(t, -3.0, math.Round(-2.5))
	require.True(t, math.IsNaN(jsRound(math.NaN())))
	require.Equal(t, math.Inf(1), jsRound(math.Inf(1)))
}

func TestSeedDealsShape(t *testing.T) {
	k := UserKey([]byte("salt"), "alice")
	a, b := SeedDeals(k), SeedDeals(k)
	require.Equal(t, a, b, "deterministic")
	require.NotEqual(t, a, SeedDeals(UserKey([]byte("salt"), "bob")))
	accounts := map[string]bool{"Acme Co": true, "Globex": true, "Initech": true, "Umbrella": true, "Stark Industries": true, "Wayne Enterprises": true}
	for _, d := range a {
		require.True(t, accounts[d.Account], d.Account)
		require.Contains(t, []string{StageWon, StageLost, StageOpen}, d.Stage)
		require.Regexp(t, `^202[45]-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$`, d.CloseDate)
		require.GreaterOrEqual(t, d.AmountCents, int64(800*70))
		require.LessOrEqual(t, d.AmountCents, int64(18800*100))
	}
}

func TestQuarterRange(t *testing.T) {
	rows := []struct {
		year, q    int
		start, end string
	}{
		{2025, 1, "2025-01-01", "2025-04-01"},
		{2025, 2, "2025-04-01", "2025-07-01"},
		{2025, 3, "2025-07-01", "2025-10-01"},
		{2025, 4, "2025-10-01", "2026-01-01"},
		{2025, 0, "2025-01-01", "2025-04-01"},
		{2025, -7, "2025-01-01", "2025-04-01"},
		{2025, 5, "2025-10-01", "2026-01-01"},
		{999, 2, "0999-04-01", "0999-07-01"},
	}
	for _, row := range rows {
		require.Equal(t, Range{Start: row.start, EndExclusive: row.end}, QuarterRange(row.year, row.q), "Q%d %d", row.q, row.year)
	}
}

func TestIDs(t *testing.T) {
	require.Regexp(t, `^deal_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, newDealID())
	require.NotEqual(t, newDealID(), newDealID())
	require.Regexp(t, `^note_1700000000000_[0-9a-f]{16}$`, newNoteID(1700000000000))
	require.NotEqual(t, newNoteID(1), newNoteID(1))
}
