package store

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits every Store enforces, whatever the tool layer already checked.
const (
	// MaxNoteBytes is the longest note text accepted, in bytes.
	MaxNoteBytes = 2000
	// MaxNotesPerUser is how many notes one user may keep.
	MaxNotesPerUser = 500
	// MaxSeedNotes is the largest count SeedNotes accepts.
	MaxSeedNotes = 20
	// MaxListNotes is the most notes ListNotes returns; it equals
	// MaxNotesPerUser, so a user can always list every note.
	MaxListNotes = MaxNotesPerUser
	// MinYear and MaxYear bound the year of a sales summary: the years
	// that fit a YYYY-MM-DD date.
	MinYear, MaxYear = 1, 9999
)

// Store holds the starter's per-user data: notes and the demo CRM. All data
// is keyed by a user key (see UserKey); every method refuses any other string
// with ErrBadUserKey, and no method reads or writes another user's rows.
//
// Implementations must be safe for concurrent use, by several goroutines and
// by several processes sharing one database, and must pass
// storetest.RunContract.
type Store interface {
	// AddNote stores a note for the user and returns it. The text must be
	// non-blank UTF-8 of at most MaxNoteBytes (ErrEmptyNote,
	// ErrNoteTooLong, ErrNoteEncoding); it is stored as given. A user at
	// MaxNotesPerUser gets ErrTooManyNotes, even under concurrent calls.
	AddNote(ctx context.Context, userKey, text string) (Note, error)
	// SeedNotes adds count demo notes ("Hello user-1a2b3c… (#1)", …) for
	// the user and returns them in that order. count must be within
	// 0..MaxSeedNotes (ErrBadSeedCount); all are written or none
	// (ErrTooManyNotes when they would not fit under MaxNotesPerUser).
	SeedNotes(ctx context.Context, userKey string, count int) ([]Note, error)
	// ListNotes returns up to limit of the user's notes, newest first: the
	// most recently written first, and within one SeedNotes call the
	// highest number first. A limit below 1 or above MaxListNotes means
	// MaxListNotes.
	ListNotes(ctx context.Context, userKey string, limit int) ([]Note, error)

	// EnsureUser creates the user's demo CRM on first use: a users row and
	// the deals of SeedDeals(userKey), in one transaction. It reports
	// whether this call created them and how many deals it wrote (0 when
	// the user already existed). Any number of concurrent calls, from any
	// number of processes, create exactly one data set.
	EnsureUser(ctx context.Context, userKey string) (created bool, dealsCreated int, err error)
	// ResetUser deletes the user's CRM data and seeds it again, in one
	// transaction, creating the user if needed; it returns the number of
	// deals written. The figures afterwards equal those of the first seed.
	// Notes are not touched.
	ResetUser(ctx context.Context, userKey string) (dealsCreated int, err error)
	// SalesSummary sums the user's won deals whose close date falls in the
	// quarter (see QuarterRange; the quarter is clamped to 1..4 and echoed
	// unclamped, as the original starter did). year must be within
	// MinYear..MaxYear (ErrBadYear). A user without data gets zeros.
	SalesSummary(ctx context.Context, userKey string, year, quarter int) (Summary, error)
	// Counts returns how many CRM users and deals the whole database holds.
	Counts(ctx context.Context) (users, deals int, err error)

	// Close releases the database. It may be called more than once.
	Close() error
}

// Note is one user note. Its JSON form is the original starter's:
// {"id","text","createdAt"} with createdAt in Unix milliseconds.
type Note struct {
	// ID is "note_<unix ms>_<random hex>", unique across all users.
	ID string `json:"id"`
	// Text is the note as the user wrote it.
	Text string `json:"text"`
	// CreatedAt is the creation time in milliseconds since the Unix epoch.
	CreatedAt int64 `json:"createdAt"`
}

// Summary is a user's won deals in one quarter. Its JSON form is the
// original starter's summary object.
type Summary struct {
	// Year is the requested year.
	Year int `json:"year"`
	// Quarter is the requested quarter, as given (unclamped); Range says
	// which dates were summed.
	Quarter int `json:"quarter"`
	// Range is the half-open date range summed.
	Range Range `json:"range"`
	// DealsWon is the number of won deals closed in Range.
	DealsWon int `json:"deals_won"`
	// RevenueCents is the sum of their amounts, in cents.
	RevenueCents int64 `json:"revenue_cents"`
}

// Range is a half-open range of dates written "YYYY-MM-DD": Start is in it,
// EndExclusive is not.
type Range struct {
	// Start is the first day in the range.
	Start string `json:"start"`
	// EndExclusive is the first day after the range.
	EndExclusive string `json:"endExclusive"`
}

// QuarterRange returns the dates of quarter q of year: [Y-MM-01, first day
// of the next quarter), Q4 ending on the next year's January 1st. q is
// clamped to 1..4, as in the original starter.
func QuarterRange(year, q int) Range {
	q = min(max(q, 1), 4)
	startMonth := 3*(q-1) + 1
	endYear, endMonth := year, startMonth+3
	if endMonth > 12 {
		endYear, endMonth = year+1, 1
	}
	return Range{
		Start:        fmt.Sprintf("%04d-%02d-01", year, startMonth),
		EndExclusive: fmt.Sprintf("%04d-%02d-01", endYear, endMonth),
	}
}

// checkUserKey returns ErrBadUserKey, wrapped, unless k has the form of a
// user key.
func checkUserKey(k string) error {
	if !validUserKey(k) {
		return fmt.Errorf("store: %w", ErrBadUserKey)
	}
	return nil
}

// checkNoteText applies the note text rules of Store.AddNote.
func checkNoteText(text string) error {
	switch {
	case len(text) > MaxNoteBytes:
		return fmt.Errorf("store: note of %d bytes, limit %d: %w", len(text), MaxNoteBytes, ErrNoteTooLong)
	case !utf8.ValidString(text) || strings.IndexByte(text, 0) >= 0:
		return fmt.Errorf("store: %w", ErrNoteEncoding)
	case strings.TrimSpace(text) == "":
		return fmt.Errorf("store: %w", ErrEmptyNote)
	}
	return nil
}

// checkSeedCount applies the count rule of Store.SeedNotes.
func checkSeedCount(n int) error {
	if n < 0 || n > MaxSeedNotes {
		return fmt.Errorf("store: seed count %d, allowed 0..%d: %w", n, MaxSeedNotes, ErrBadSeedCount)
	}
	return nil
}

// checkYear applies the year rule of Store.SalesSummary.
func checkYear(y int) error {
	if y < MinYear || y > MaxYear {
		return fmt.Errorf("store: year %d, allowed %d..%d: %w", y, MinYear, MaxYear, ErrBadYear)
	}
	return nil
}

// listLimit returns the effective limit of Store.ListNotes.
func listLimit(limit int) int {
	if limit < 1 || limit > MaxListNotes {
		return MaxListNotes
	}
	return limit
}
