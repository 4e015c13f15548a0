// Package storetest is the contract every store.Store implementation must
// pass. An implementation's test calls RunContract with a function that sets
// up fresh, empty storage:
//
//	func TestSQLiteContract(t *testing.T) {
//		storetest.RunContract(t, func(t *testing.T) storetest.Opener {
//			path := filepath.Join(t.TempDir(), "crm.sqlite")
//			return func(t *testing.T) store.Store {
//				s, err := store.OpenSQLite(context.Background(), path)
//				require.NoError(t, err)
//				return s
//			}
//		})
//	}
//
// Expected figures come from store.SeedDeals, computed here in Go, so an
// implementation is held to the same numbers as the original starter.
package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/store"
)

// Opener opens a new handle on one storage set up by RunContract's caller.
// Every call must return an independent Store (its own connections) that
// sees the same data, as a restarted process or another replica would.
// RunContract closes every Store it opens.
type Opener func(t *testing.T) store.Store

// RunContract runs the contract suite. newStorage is called once per subtest
// and must return an Opener on storage that is empty and used by nothing
// else.
func RunContract(t *testing.T, newStorage func(t *testing.T) Opener) {
	t.Helper()
	c := contract{newStorage: newStorage}
	t.Run("UserKeyRequired", c.userKeyRequired)
	t.Run("AddAndListNotes", c.addAndListNotes)
	t.Run("SeedNotes", c.seedNotes)
	t.Run("NoteBounds", c.noteBounds)
	t.Run("NoteCapUnderConcurrency", c.noteCap)
	t.Run("ListLimit", c.listLimit)
	t.Run("EnsureUserSeedsOnce", c.ensureUserOnce)
	t.Run("IsolationUnderConcurrency", c.isolation)
	t.Run("SeedingSurvivesReopen", c.reopen)
	t.Run("ResetReseedsSameNumbers", c.reset)
	t.Run("SalesSummary", c.salesSummary)
	t.Run("Counts", c.counts)
	t.Run("CanceledContext", c.canceledContext)
	t.Run("CloseTwice", c.closeTwice)
}

type contract struct {
	newStorage func(t *testing.T) Opener
}

// open sets up fresh storage and opens one Store on it.
func (c contract) open(t *testing.T) (store.Store, Opener) {
	t.Helper()
	opener := c.newStorage(t)
	return openStore(t, opener), opener
}

func openStore(t *testing.T, open Opener) store.Store {
	t.Helper()
	s := open(t)
	require.NotNil(t, s)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// key returns the user key of a test subject.
func key(sub string) string { return store.UserKey([]byte("storetest salt"), sub) }

// The seeded deals close in these years.
const firstSeedYear, lastSeedYear = 2024, 2025

// expectSummary computes, from store.SeedDeals, what SalesSummary must say.
func expectSummary(userKey string, year, quarter int) store.Summary {
	r := store.QuarterRange(year, quarter)
	sum := store.Summary{Year: year, Quarter: quarter, Range: r}
	for _, d := range store.SeedDeals(userKey) {
		if d.Stage == store.StageWon && d.CloseDate >= r.Start && d.CloseDate < r.EndExclusive {
			sum.DealsWon++
			sum.RevenueCents += d.AmountCents
		}
	}
	return sum
}

// figures returns the user's summaries for every quarter of the seeded years.
func figures(t *testing.T, s store.Store, userKey string) []store.Summary {
	t.Helper()
	var out []store.Summary
	for y := firstSeedYear; y <= lastSeedYear; y++ {
		for q := 1; q <= 4; q++ {
			sum, err := s.SalesSummary(context.Background(), userKey, y, q)
			require.NoError(t, err)
			out = append(out, sum)
		}
	}
	return out
}

// expectFigures is figures computed from store.SeedDeals. It also checks
// that the quarters account for every won deal, so that comparing figures
// is never comparing zeros.
func expectFigures(t *testing.T, userKey string) []store.Summary {
	t.Helper()
	var out []store.Summary
	won := 0
	for y := firstSeedYear; y <= lastSeedYear; y++ {
		for q := 1; q <= 4; q++ {
			sum := expectSummary(userKey, y, q)
			won += sum.DealsWon
			out = append(out, sum)
		}
	}
	wantWon := 0
	for _, d := range store.SeedDeals(userKey) {
		if d.Stage == store.StageWon {
			wantWon++
		}
	}
	require.Equal(t, wantWon, won, "the seeded years' quarters must cover every won deal")
	require.Positive(t, won)
	return out
}

// requireCounts checks the global counts.
func requireCounts(t *testing.T, s store.Store, users, deals int) {
	t.Helper()
	u, d, err := s.Counts(context.Background())
	require.NoError(t, err)
	require.Equal(t, users, u, "users")
	require.Equal(t, deals, d, "deals")
}

// run starts n goroutines running fn(i) and waits for them; it returns their
// errors, indexed by i. Assertions happen on the test goroutine.
func run(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}

func texts(notes []store.Note) []string {
	out := make([]string, len(notes))
	for i, n := range notes {
		out[i] = n.Text
	}
	return out
}

func (c contract) userKeyRequired(t *testing.T) {
	s, _ := c.open(t)
	ctx := context.Background()
	bad := map[string]string{
		"empty":            "",
		"raw subject":      "auth0|alice",
		"short hex":        strings.Repeat("a", store.UserKeyLen-1),
		"long hex":         strings.Repeat("a", store.UserKeyLen+1),
		"uppercase hex":    strings.ToUpper(key("alice")),
		"non-hex of len64": strings.Repeat("g", store.UserKeyLen),
	}
	for name, k := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := s.AddNote(ctx, k, "hi")
			require.ErrorIs(t, err, store.ErrBadUserKey, "AddNote")
			_, err = s.SeedNotes(ctx, k, 1)
			require.ErrorIs(t, err, store.ErrBadUserKey, "SeedNotes")
			_, err = s.ListNotes(ctx, k, 10)
			require.ErrorIs(t, err, store.ErrBadUserKey, "ListNotes")
			_, _, err = s.EnsureUser(ctx, k)
			require.ErrorIs(t, err, store.ErrBadUserKey, "EnsureUser")
			_, err = s.ResetUser(ctx, k)
			require.ErrorIs(t, err, store.ErrBadUserKey, "ResetUser")
			_, err = s.SalesSummary(ctx, k, 2025, 2)
			require.ErrorIs(t, err, store.ErrBadUserKey, "SalesSummary")
		})
	}
	requireCounts(t, s, 0, 0)
}

func (c contract) addAndListNotes(t *testing.T) {
	s, _ := c.open(t)
	ctx := context.Background()
	alice := key("alice")

	notes, err := s.ListNotes(ctx, alice, 10)
	require.NoError(t, err)
	require.NotNil(t, notes, "no notes is an empty list, not nil (JSON [])")
	require.Empty(t, notes)

	before := time.Now().UnixMilli()
	first, err := s.AddNote(ctx, alice, "first")
	require.NoError(t, err)
	second, err := s.AddNote(ctx, alice, "  ünïcode ✓ kept as given  ")
	require.NoError(t, err)
	after := time.Now().UnixMilli()

	for _, n := range []store.Note{first, second} {
		require.True(t, strings.HasPrefix(n.ID, "note_"), "id %q", n.ID)
		require.GreaterOrEqual(t, n.CreatedAt, before)
		require.LessOrEqual(t, n.CreatedAt, after)
	}
	require.NotEqual(t, first.ID, second.ID)

	notes, err = s.ListNotes(ctx, alice, 10)
	require.NoError(t, err)
	require.Equal(t, []store.Note{second, first}, notes, "newest first, stored exactly")
}

func (c contract) seedNotes(t *testing.T) {
	s, _ := c.open(t)
	ctx := context.Background()
	alice := key("alice")
	label := store.Label(alice)

	added, err := s.AddNote(ctx, alice, "older")
	require.NoError(t, err)
	seeded, err := s.SeedNotes(ctx, alice, 3)
	require.NoError(t, err)
	require.Equal(t, []string{
		"Hello " + label + "… (#1)",
		"Hello " + label + "… (#2)",
		"Hello " + label + "… (#3)",
	}, texts(seeded))
	ids := map[string]bool{added.ID: true}
	for i, n := range seeded {
		require.True(t, strings.HasPrefix(n.ID, "note_"), "id %q", n.ID)
		require.False(t, ids[n.ID], "duplicate id %q", n.ID)
		ids[n.ID] = true
		if i > 0 {
			require.Equal(t, seeded[i-1].CreatedAt+1, n.CreatedAt, "each seeded note is 1 ms newer, as the original")
		}
	}

	notes, err := s.ListNotes(ctx, alice, 0)
	require.NoError(t, err)
	require.Equal(t, []store.Note{seeded[2], seeded[1], seeded[0], added}, notes)

	bob := key("bob")
	none, err := s.ListNotes(ctx, bob, 0)
	require.NoError(t, err)
	require.Empty(t, none, "seeding one user gives another nothing")
}

func (c contract) noteBounds(t *testing.T) {
	s, _ := c.open(t)
	ctx := context.Background()
	alice := key("alice")

	textRows := []struct {
		name string
		text string
		want error
	}{
		{"empty", "", store.ErrEmptyNote},
		{"blank", " \t\n ", store.ErrEmptyNote},
		{"at limit, ascii", strings.Repeat("a", store.MaxNoteBytes), nil},
		{"at limit, two-byte runes", strings.Repeat("é", store.MaxNoteBytes/2), nil},
		{"one byte over", strings.Repeat("a", store.MaxNoteBytes+1), store.ErrNoteTooLong},
		{"over by runes", strings.Repeat("é", store.MaxNoteBytes/2) + "a", store.ErrNoteTooLong},
		{"far over", strings.Repeat("a", 1<<20), store.ErrNoteTooLong},
		{"invalid utf-8", "abc\xff", store.ErrNoteEncoding},
		{"nul byte", "a\x00b", store.ErrNoteEncoding},
	}
	stored := 0
	for _, row := range textRows {
		t.Run("text/"+row.name, func(t *testing.T) {
			n, err := s.AddNote(ctx, alice, row.text)
			if row.want != nil {
				require.ErrorIs(t, err, row.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, row.text, n.Text)
			stored++
		})
	}
	notes, err := s.ListNotes(ctx, alice, 0)
	require.NoError(t, err)
	require.Len(t, notes, stored, "refused notes are not stored")

	bob := key("bob")
	countRows := []struct {
		count int
		want  error
	}{
		{-1, store.ErrBadSeedCount},
		{store.MaxSeedNotes + 1, store.ErrBadSeedCount},
		{1 << 30, store.ErrBadSeedCount},
		{0, nil},
		{1, nil},
		{store.MaxSeedNotes, nil},
	}
	total := 0
	for _, row := range countRows {
		t.Run(fmt.Sprintf("seed/%d", row.count), func(t *testing.T) {
			seeded, err := s.SeedNotes(ctx, bob, row.count)
			if row.want != nil {
				require.ErrorIs(t, err, row.want)
				return
			}
			require.NoError(t, err)
			require.Len(t, seeded, row.count)
			total += row.count
		})
	}
	notes, err = s.ListNotes(ctx, bob, 0)
	require.NoError(t, err)
	require.Len(t, notes, total, "refused seeds are not stored")
}

func (c contract) noteCap(t *testing.T) {
	s, _ := c.open(t)
	ctx := context.Background()
	alice, bob := key("alice"), key("bob")

	// Fill to 5 below the cap.
	const free = 5
	have := 0
	for have+store.MaxSeedNotes <= store.MaxNotesPerUser-free {
		_, err := s.SeedNotes(ctx, alice, store.MaxSeedNotes)
		require.NoError(t, err)
		have += store.MaxSeedNotes
	}
	for ; have < store.MaxNotesPerUser-free; have++ {
		_, err := s.AddNote(ctx, alice, "filler")
		require.NoError(t, err)
	}

	// A seed that does not fit writes nothing.
	_, err := s.SeedNotes(ctx, alice, free+1)
	require.ErrorIs(t, err, store.ErrTooManyNotes)
	notes, err := s.ListNotes(ctx, alice, 0)
	require.NoError(t, err)
	require.Len(t, notes, store.MaxNotesPerUser-free)

	// Concurrent adders race for the last places: exactly `free` win.
	const adders = 4 * free
	errs := run(adders, func(i int) error {
		_, err := s.AddNote(ctx, alice, fmt.Sprintf("race %d", i))
		return err
	})
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		require.ErrorIs(t, err, store.ErrTooManyNotes)
	}
	require.Equal(t, free, won)
	notes, err = s.ListNotes(ctx, alice, 0)
	require.NoError(t, err)
	require.Len(t, notes, store.MaxNotesPerUser)

	_, err = s.AddNote(ctx, alice, "one more")
	require.ErrorIs(t, err, store.ErrTooManyNotes)
	_, err = s.SeedNotes(ctx, alice, 1)
	require.ErrorIs(t, err, store.ErrTooManyNotes)
	_, err = s.SeedNotes(ctx, alice, 0)
	require.NoError(t, err, "seeding nothing always fits")

	_, err = s.AddNote(ctx, bob, "the cap is per user")
	require.NoError(t, err)
}

func (c contract) listLimit(t *testing.T) {
	s, _ := c.open(t)
	ctx := context.Background()
	alice := key("alice")
	var added []string
	for i := range 5 {
		n, err := s.AddNote(ctx, alice, fmt.Sprintf("note %d", i))
		require.NoError(t, err)
		added = append([]string{n.Text}, added...)
	}
	rows := []struct {
		limit int
		want  []string
	}{
		{1, added[:1]},
		{2, added[:2]},
		{5, added},
		{6, added},
		{0, added},
		{-1, added},
		{store.MaxListNotes + 1, added},
	}
	for _, row := range rows {
		t.Run(fmt.Sprint(row.limit), func(t *testing.T) {
			notes, err := s.ListNotes(ctx, alice, row.limit)
			require.NoError(t, err)
			require.Equal(t, row.want, texts(notes))
		})
	}
}

func (c contract) ensureUserOnce(t *testing.T) {
	s, open := c.open(t)
	ctx := context.Background()
	alice := key("alice")
	want := len(store.SeedDeals(alice))

	// Two handles, as two processes would have.
	other := openStore(t, open)
	stores := []store.Store{s, other}
	const callers = 16
	type result struct {
		created bool
		deals   int
	}
	results := make([]result, callers)
	errs := run(callers, func(i int) error {
		var err error
		results[i].created, results[i].deals, err = stores[i%2].EnsureUser(ctx, alice)
		return err
	})
	created := 0
	for i, err := range errs {
		require.NoError(t, err)
		if results[i].created {
			created++
			require.Equal(t, want, results[i].deals)
		} else {
			require.Zero(t, results[i].deals)
		}
	}
	require.Equal(t, 1, created, "exactly one caller seeds")
	requireCounts(t, s, 1, want)
	require.Equal(t, expectFigures(t, alice), figures(t, s, alice))

	created1, deals, err := s.EnsureUser(ctx, alice)
	require.NoError(t, err)
	require.False(t, created1)
	require.Zero(t, deals)
}

func (c contract) isolation(t *testing.T) {
	s, open := c.open(t)
	other := openStore(t, open)
	stores := []store.Store{s, other}
	ctx := context.Background()
	subs := []string{"alice", "bob", "carol"}
	keys := make([]string, len(subs))
	for i, sub := range subs {
		keys[i] = key(sub)
	}
	require.NotEqual(t, expectFigures(t, keys[0]), expectFigures(t, keys[1]), "test users must have different data")

	// Every user works on both handles at once: notes, seeding, reading
	// figures, resetting.
	const workers, rounds = 4, 5
	errs := run(len(keys)*workers, func(i int) error {
		u, w := i%len(keys), i/len(keys)
		k, st := keys[u], stores[(u+w)%2]
		for r := range rounds {
			if _, _, err := st.EnsureUser(ctx, k); err != nil {
				return err
			}
			if _, err := st.AddNote(ctx, k, fmt.Sprintf("%s note w%d r%d", subs[u], w, r)); err != nil {
				return err
			}
			if _, err := st.SalesSummary(ctx, k, 2025, 1+r%4); err != nil {
				return err
			}
			if w == 0 && r == 2 {
				if _, err := st.ResetUser(ctx, k); err != nil {
					return err
				}
				if _, err := st.SeedNotes(ctx, k, 2); err != nil {
					return err
				}
			}
		}
		return nil
	})
	for _, err := range errs {
		require.NoError(t, err)
	}

	deals := 0
	for u, k := range keys {
		notes, err := s.ListNotes(ctx, k, 0)
		require.NoError(t, err)
		require.Len(t, notes, workers*rounds+2)
		for _, n := range notes {
			mine := strings.HasPrefix(n.Text, subs[u]+" note ") || strings.HasPrefix(n.Text, "Hello "+store.Label(k)+"…")
			require.True(t, mine, "%s sees a note that is not theirs: %q", subs[u], n.Text)
		}
		require.Equal(t, expectFigures(t, k), figures(t, other, k), "%s's figures", subs[u])
		deals += len(store.SeedDeals(k))
	}
	requireCounts(t, s, len(keys), deals)
}

func (c contract) reopen(t *testing.T) {
	s, open := c.open(t)
	ctx := context.Background()
	alice, bob := key("alice"), key("bob")
	for _, k := range []string{alice, bob} {
		created, n, err := s.EnsureUser(ctx, k)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, len(store.SeedDeals(k)), n)
	}
	note, err := s.AddNote(ctx, alice, "kept across restarts")
	require.NoError(t, err)
	first := figures(t, s, alice)
	require.Equal(t, expectFigures(t, alice), first)
	users, deals, err := s.Counts(ctx)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	again := openStore(t, open)
	created, n, err := again.EnsureUser(ctx, alice)
	require.NoError(t, err)
	require.False(t, created, "a reopened store still knows the user")
	require.Zero(t, n)
	require.Equal(t, first, figures(t, again, alice))
	requireCounts(t, again, users, deals)
	notes, err := again.ListNotes(ctx, alice, 0)
	require.NoError(t, err)
	require.Equal(t, []store.Note{note}, notes, "notes are persisted")
}

func (c contract) reset(t *testing.T) {
	s, open := c.open(t)
	ctx := context.Background()
	alice, bob := key("alice"), key("bob")
	nAlice, nBob := len(store.SeedDeals(alice)), len(store.SeedDeals(bob))

	_, _, err := s.EnsureUser(ctx, alice)
	require.NoError(t, err)
	_, _, err = s.EnsureUser(ctx, bob)
	require.NoError(t, err)
	note, err := s.AddNote(ctx, alice, "notes survive a CRM reset")
	require.NoError(t, err)
	first := figures(t, s, alice)

	n, err := s.ResetUser(ctx, alice)
	require.NoError(t, err)
	require.Equal(t, nAlice, n)
	require.Equal(t, first, figures(t, s, alice), "a reset reseeds the same numbers")
	require.Equal(t, expectFigures(t, bob), figures(t, s, bob), "another user is untouched")
	requireCounts(t, s, 2, nAlice+nBob)
	notes, err := s.ListNotes(ctx, alice, 0)
	require.NoError(t, err)
	require.Equal(t, []store.Note{note}, notes)

	created, n, err := s.EnsureUser(ctx, alice)
	require.NoError(t, err)
	require.False(t, created, "a reset user is not seeded again")
	require.Zero(t, n)

	// Concurrent resets and first uses, on two handles: one data set.
	other := openStore(t, open)
	stores := []store.Store{s, other}
	carol := key("carol")
	nCarol := len(store.SeedDeals(carol))
	errs := run(12, func(i int) error {
		st := stores[i%2]
		if i%3 == 0 {
			_, _, err := st.EnsureUser(ctx, carol)
			return err
		}
		k := alice
		if i%3 == 2 {
			k = carol
		}
		got, err := st.ResetUser(ctx, k)
		if err == nil && got != len(store.SeedDeals(k)) {
			return fmt.Errorf("reset wrote %d deals", got)
		}
		return err
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	requireCounts(t, s, 3, nAlice+nBob+nCarol)
	require.Equal(t, first, figures(t, other, alice))
	require.Equal(t, expectFigures(t, carol), figures(t, other, carol))

	// Resetting a user who never existed creates them.
	dave := key("dave")
	n, err = s.ResetUser(ctx, dave)
	require.NoError(t, err)
	require.Equal(t, len(store.SeedDeals(dave)), n)
	requireCounts(t, s, 4, nAlice+nBob+nCarol+n)
}

func (c contract) salesSummary(t *testing.T) {
	s, _ := c.open(t)
	ctx := context.Background()
	alice := key("alice")
	_, _, err := s.EnsureUser(ctx, alice)
	require.NoError(t, err)

	rows := []struct {
		name          string
		year, quarter int
		start, end    string
	}{
		{"Q1", 2025, 1, "2025-01-01", "2025-04-01"},
		{"Q2", 2025, 2, "2025-04-01", "2025-07-01"},
		{"Q3", 2024, 3, "2024-07-01", "2024-10-01"},
		{"Q4 ends next year", 2024, 4, "2024-10-01", "2025-01-01"},
		{"quarter 0 clamps to Q1", 2025, 0, "2025-01-01", "2025-04-01"},
		{"negative quarter clamps to Q1", 2025, -3, "2025-01-01", "2025-04-01"},
		{"quarter 5 clamps to Q4", 2025, 5, "2025-10-01", "2026-01-01"},
		{"year without deals", 2023, 2, "2023-04-01", "2023-07-01"},
		{"smallest year", store.MinYear, 1, "0001-01-01", "0001-04-01"},
		{"largest year", store.MaxYear, 4, "9999-10-01", "10000-01-01"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			got, err := s.SalesSummary(ctx, alice, row.year, row.quarter)
			require.NoError(t, err)
			require.Equal(t, store.Range{Start: row.start, EndExclusive: row.end}, got.Range)
			require.Equal(t, row.year, got.Year)
			require.Equal(t, row.quarter, got.Quarter, "the quarter is echoed as requested")
			require.Equal(t, expectSummary(alice, row.year, row.quarter), got)
		})
	}

	for _, year := range []int{store.MinYear - 1, store.MaxYear + 1, -2025} {
		_, err := s.SalesSummary(ctx, alice, year, 1)
		require.ErrorIs(t, err, store.ErrBadYear, "year %d", year)
	}

	got, err := s.SalesSummary(ctx, key("nobody"), 2025, 2)
	require.NoError(t, err)
	require.Equal(t, store.Summary{Year: 2025, Quarter: 2, Range: store.QuarterRange(2025, 2)}, got, "a user without data has zeros")
}

func (c contract) counts(t *testing.T) {
	s, _ := c.open(t)
	ctx := context.Background()
	requireCounts(t, s, 0, 0)
	alice, bob := key("alice"), key("bob")
	_, err := s.SeedNotes(ctx, alice, 3)
	require.NoError(t, err)
	requireCounts(t, s, 0, 0) // notes are not CRM entries
	_, _, err = s.EnsureUser(ctx, alice)
	require.NoError(t, err)
	requireCounts(t, s, 1, len(store.SeedDeals(alice)))
	_, _, err = s.EnsureUser(ctx, bob)
	require.NoError(t, err)
	requireCounts(t, s, 2, len(store.SeedDeals(alice))+len(store.SeedDeals(bob)))
}

func (c contract) canceledContext(t *testing.T) {
	s, _ := c.open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	alice := key("alice")
	_, err := s.AddNote(ctx, alice, "x")
	require.ErrorIs(t, err, context.Canceled, "AddNote")
	_, err = s.SeedNotes(ctx, alice, 1)
	require.ErrorIs(t, err, context.Canceled, "SeedNotes")
	_, err = s.ListNotes(ctx, alice, 1)
	require.ErrorIs(t, err, context.Canceled, "ListNotes")
	_, _, err = s.EnsureUser(ctx, alice)
	require.ErrorIs(t, err, context.Canceled, "EnsureUser")
	_, err = s.ResetUser(ctx, alice)
	require.ErrorIs(t, err, context.Canceled, "ResetUser")
	_, err = s.SalesSummary(ctx, alice, 2025, 1)
	require.ErrorIs(t, err, context.Canceled, "SalesSummary")
	_, _, err = s.Counts(ctx)
	require.ErrorIs(t, err, context.Canceled, "Counts")
	requireCounts(t, s, 0, 0)
}

func (c contract) closeTwice(t *testing.T) {
	open := c.newStorage(t)
	s := open(t)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
}
