package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // pure-Go SQLite driver "sqlite": no cgo
)

// sqliteBusyTimeout is how long a connection waits for another writer's lock
// before failing with SQLITE_BUSY.
const sqliteBusyTimeout = 10 * time.Second

// sqliteSchema creates the tables on first run. users and deals are the
// original starter's; notes is new (the original kept notes in memory).
const sqliteSchema = `
CREATE TABLE IF NOT EXISTS users (
  user_key   TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deals (
  id           TEXT PRIMARY KEY,
  user_key     TEXT NOT NULL REFERENCES users(user_key),
  account      TEXT NOT NULL,
  amount_cents INTEGER NOT NULL,
  close_date   TEXT NOT NULL, -- YYYY-MM-DD
  stage        TEXT NOT NULL  -- won, lost or open
               CHECK (stage IN ('won', 'lost', 'open')),
  created_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_deals_user_close ON deals(user_key, close_date);
CREATE INDEX IF NOT EXISTS idx_deals_user_stage ON deals(user_key, stage);
CREATE TABLE IF NOT EXISTS notes (
  seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- insertion order
  id         TEXT NOT NULL UNIQUE,
  user_key   TEXT NOT NULL,
  text       TEXT NOT NULL,
  created_at INTEGER NOT NULL     -- Unix milliseconds
);
CREATE INDEX IF NOT EXISTS idx_notes_user_seq ON notes(user_key, seq);
`

// SQLite is the Store on an SQLite database file, in WAL mode, through the
// pure-Go driver modernc.org/sqlite. Several goroutines may use it at once;
// writes are serialised by SQLite (every write transaction starts with BEGIN
// IMMEDIATE, and a busy connection waits up to ten seconds).
type SQLite struct {
	db *sql.DB
}

var _ Store = (*SQLite)(nil)

// OpenSQLite opens the database at path, creating the file, its directory
// and the schema when missing, and switches it to WAL mode. path is a file
// system path (it may not contain '?' or start with "file:"); ":memory:"
// opens a private in-memory database, for tests, on a single connection.
func OpenSQLite(ctx context.Context, path string) (*SQLite, error) {
	if path == "" || strings.Contains(path, "?") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: sqlite path %q: want a file path without '?' and not a file: URI", path)
	}
	memory := path == ":memory:"
	params := fmt.Sprintf("?_txlock=immediate&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", sqliteBusyTimeout.Milliseconds())
	if !memory {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("store: create directory for %s: %w", path, err)
		}
		params += "&_pragma=journal_mode(WAL)"
	}
	db, err := sql.Open("sqlite", path+params)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	if memory {
		// Every connection to ":memory:" is a database of its own.
		db.SetMaxOpenConns(1)
	}
	if _, err := db.ExecContext(ctx, sqliteSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: create schema in %s: %w", path, err)
	}
	return &SQLite{db: db}, nil
}

// Close closes the database. Calling it again does nothing.
func (s *SQLite) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close sqlite: %w", err)
	}
	return nil
}

// AddNote implements Store.
func (s *SQLite) AddNote(ctx context.Context, userKey, text string) (Note, error) {
	return addNote(ctx, userKey, text, s.insertNotes)
}

// SeedNotes implements Store.
func (s *SQLite) SeedNotes(ctx context.Context, userKey string, count int) ([]Note, error) {
	return seedNotes(ctx, userKey, count, s.insertNotes)
}

// insertNotes writes notes for one user in one transaction, all or none,
// refusing them with ErrTooManyNotes if they would take the user past
// MaxNotesPerUser. The count and the inserts share the write lock (BEGIN
// IMMEDIATE), so concurrent calls cannot both pass the check.
func (s *SQLite) insertNotes(ctx context.Context, userKey string, notes []Note) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM notes WHERE user_key = ?`, userKey).Scan(&have); err != nil {
			return fmt.Errorf("count notes: %w", err)
		}
		if have+len(notes) > MaxNotesPerUser {
			return fmt.Errorf("user has %d notes, adding %d exceeds %d: %w", have, len(notes), MaxNotesPerUser, ErrTooManyNotes)
		}
		for _, n := range notes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO notes(id, user_key, text, created_at) VALUES (?, ?, ?, ?)`,
				n.ID, userKey, n.Text, n.CreatedAt); err != nil {
				return fmt.Errorf("insert note: %w", err)
			}
		}
		return nil
	})
}

// ListNotes implements Store.
func (s *SQLite) ListNotes(ctx context.Context, userKey string, limit int) ([]Note, error) {
	if err := checkUserKey(userKey); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id, text, created_at FROM notes WHERE user_key = ?
		ORDER BY seq DESC LIMIT ?`, userKey, listLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: list notes: %w", err)
	}
	defer rows.Close()
	notes := []Note{}
	for rows.Next() {
		var n Note
		if err := rows.Scan(&n.ID, &n.Text, &n.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: list notes: %w", err)
		}
		notes = append(notes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list notes: %w", err)
	}
	return notes, nil
}

// EnsureUser implements Store. The users row is inserted with ON CONFLICT
// DO NOTHING inside the seeding transaction, and deals are written only when
// that insert took effect: a concurrent caller either sees the committed
// user or waits for the write lock and then finds it.
func (s *SQLite) EnsureUser(ctx context.Context, userKey string) (created bool, dealsCreated int, err error) {
	if err := checkUserKey(userKey); err != nil {
		return false, 0, err
	}
	// Most calls find the user: answer those without taking the write lock.
	var one int
	switch err := s.db.QueryRowContext(ctx, `SELECT 1 FROM users WHERE user_key = ?`, userKey).Scan(&one); {
	case err == nil:
		return false, 0, nil
	case !errors.Is(err, sql.ErrNoRows):
		return false, 0, fmt.Errorf("store: ensure user: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMilli()
		res, err := tx.ExecContext(ctx, `INSERT INTO users(user_key, created_at) VALUES (?, ?) ON CONFLICT(user_key) DO NOTHING`, userKey, now)
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		inserted, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		if inserted == 0 {
			return nil // another caller seeded this user first
		}
		created = true
		dealsCreated, err = insertDeals(ctx, tx, userKey, now)
		return err
	})
	if err != nil {
		return false, 0, fmt.Errorf("store: ensure user: %w", err)
	}
	return created, dealsCreated, nil
}

// ResetUser implements Store.
func (s *SQLite) ResetUser(ctx context.Context, userKey string) (int, error) {
	if err := checkUserKey(userKey); err != nil {
		return 0, err
	}
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := time.Now().UnixMilli()
		// Upsert the users row first: it creates the user if needed and,
		// on a server database, locks the row, so that concurrent resets
		// and EnsureUser calls for this user queue behind this one.
		if _, err := tx.ExecContext(ctx, `INSERT INTO users(user_key, created_at) VALUES (?, ?)
			ON CONFLICT(user_key) DO UPDATE SET created_at = excluded.created_at`, userKey, now); err != nil {
			return fmt.Errorf("upsert user: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM deals WHERE user_key = ?`, userKey); err != nil {
			return fmt.Errorf("delete deals: %w", err)
		}
		var err error
		n, err = insertDeals(ctx, tx, userKey, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: reset user: %w", err)
	}
	return n, nil
}

// insertDeals writes SeedDeals(userKey) with fresh ids, created_at now+i as
// in the original, and returns how many it wrote.
func insertDeals(ctx context.Context, tx *sql.Tx, userKey string, now int64) (int, error) {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO deals(id, user_key, account, amount_cents, close_date, stage, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, fmt.Errorf("prepare deal insert: %w", err)
	}
	defer stmt.Close()
	deals := SeedDeals(userKey)
	for i, d := range deals {
		if _, err := stmt.ExecContext(ctx, newDealID(), userKey, d.Account, d.AmountCents, d.CloseDate, d.Stage, now+int64(i)); err != nil {
			return 0, fmt.Errorf("insert deal: %w", err)
		}
	}
	return len(deals), nil
}

// SalesSummary implements Store.
func (s *SQLite) SalesSummary(ctx context.Context, userKey string, year, quarter int) (Summary, error) {
	if err := checkUserKey(userKey); err != nil {
		return Summary{}, err
	}
	if err := checkYear(year); err != nil {
		return Summary{}, err
	}
	sum := Summary{Year: year, Quarter: quarter, Range: QuarterRange(year, quarter)}
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(amount_cents), 0) FROM deals
		WHERE user_key = ? AND stage = 'won' AND close_date >= ? AND close_date < ?`,
		userKey, sum.Range.Start, sum.Range.EndExclusive).Scan(&sum.DealsWon, &sum.RevenueCents)
	if err != nil {
		return Summary{}, fmt.Errorf("store: sales summary: %w", err)
	}
	return sum, nil
}

// Counts implements Store.
func (s *SQLite) Counts(ctx context.Context) (users, deals int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM deals)`).Scan(&users, &deals)
	if err != nil {
		return 0, 0, fmt.Errorf("store: counts: %w", err)
	}
	return users, deals, nil
}

// inTx runs fn in a write transaction (BEGIN IMMEDIATE, from the DSN) and
// commits it if fn returns nil.
func (s *SQLite) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
