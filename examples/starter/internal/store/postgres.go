package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgConnectTimeout bounds one connection attempt when the URL does not set
// connect_timeout.
const pgConnectTimeout = 10 * time.Second

// Advisory lock keys (the two-integer form, pg_advisory_xact_lock(class,
// id)): one class for schema migrations, one for a user's notes. They are
// transaction-scoped, so a crashed replica never leaves one held.
const (
	// pgLockMigrate, with id 0, serialises migrations across replicas.
	pgLockMigrate = 0x69640001
	// pgLockNotes, with an id taken from the user key, serialises the
	// writes of one user's notes, so that the note cap holds.
	pgLockNotes = 0x69640002
)

// PostgresSchemaVersion is the schema version this code creates and
// expects.
const PostgresSchemaVersion = 1

// pgMigrations returns the migrations, in order: element i takes the schema
// from version i to version i+1; there are PostgresSchemaVersion of them. A
// released migration is never edited; a change is a new entry.
func pgMigrations() []string {
	return []string{pgSchemaV1}
}

// pgSchemaV1 is version 1: the tables of the SQLite schema. Dates are text
// in the "C" collation so that they compare as in SQLite, byte by byte.
const pgSchemaV1 = `
CREATE TABLE IF NOT EXISTS users (
  user_key   text PRIMARY KEY,
  created_at bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS deals (
  id           text PRIMARY KEY,
  user_key     text NOT NULL REFERENCES users(user_key),
  account      text NOT NULL,
  amount_cents bigint NOT NULL,
  close_date   text COLLATE "C" NOT NULL, -- YYYY-MM-DD
  stage        text NOT NULL CHECK (stage IN ('won', 'lost', 'open')),
  created_at   bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_deals_user_close ON deals(user_key, close_date);
CREATE INDEX IF NOT EXISTS idx_deals_user_stage ON deals(user_key, stage);
CREATE TABLE IF NOT EXISTS notes (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- insertion order
  id         text NOT NULL UNIQUE,
  user_key   text NOT NULL,
  text       text NOT NULL,
  created_at bigint NOT NULL -- Unix milliseconds
);
CREATE INDEX IF NOT EXISTS idx_notes_user_seq ON notes(user_key, seq);
`

// Postgres is the Store on a PostgreSQL server (15 or later), through a
// pgx connection pool. It is what several replicas of the starter share:
// every guarantee of Store holds across processes, not only across
// goroutines.
//
//   - The schema is created or migrated by OpenPostgres under a
//     transaction-scoped advisory lock, recorded in a schema_version table.
//   - EnsureUser inserts the users row with ON CONFLICT DO NOTHING in the
//     seeding transaction: a concurrent caller waits for the first one's
//     commit and then does nothing.
//   - ResetUser locks the users row (an upsert) before deleting and
//     reseeding, in one transaction.
//   - Note writes take an advisory lock per user before counting, so the
//     cap of MaxNotesPerUser holds under concurrency.
type Postgres struct {
	pool *pgxpool.Pool
}

var _ Store = (*Postgres)(nil)

// OpenPostgres connects to the PostgreSQL database at url
// ("postgres://user:password@host:5432/db?sslmode=require") and creates or
// migrates the schema. Every pgx connection parameter is honoured, among
// them search_path (the schema the tables live in, which must exist),
// pool_max_conns and connect_timeout (default ten seconds). Several
// processes may open the same database at once: migrations run one at a
// time, and each is applied once. ctx bounds the connection and the
// migration, not the returned Store.
//
// A database whose schema is newer than PostgresSchemaVersion is refused:
// this binary is older than one that already migrated it.
//
// Errors never contain the URL, which may hold a password.
func OpenPostgres(ctx context.Context, url string) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's message quotes the URL, with the password masked on a
		// best-effort basis only: say what is wrong without it.
		return nil, errors.New("store: invalid PostgreSQL URL (not shown: it may hold a password)")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = pgConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	p := &Postgres{pool: pool}
	if err := p.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: postgres schema: %w", err)
	}
	return p, nil
}

// migrate brings the schema to PostgresSchemaVersion in one transaction,
// holding the migration lock: replicas starting together queue here, the
// first one migrates, the others find the work done.
func (p *Postgres) migrate(ctx context.Context) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, pgLockMigrate); err != nil {
			return fmt.Errorf("take migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("create schema_version: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM schema_version`).Scan(&have); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if have > PostgresSchemaVersion {
			return fmt.Errorf("database schema is version %d, this binary knows up to %d: run a newer release", have, PostgresSchemaVersion)
		}
		migrations := pgMigrations()
		for v := have + 1; v <= PostgresSchemaVersion; v++ {
			if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("migrate to version %d: %w", v, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_version(version) VALUES ($1)`, v); err != nil {
				return fmt.Errorf("record version %d: %w", v, err)
			}
		}
		return nil
	})
}

// Close closes the connection pool, waiting for connections in use to be
// returned. Calling it again does nothing.
func (p *Postgres) Close() error {
	p.pool.Close()
	return nil
}

// AddNote implements Store.
func (p *Postgres) AddNote(ctx context.Context, userKey, text string) (Note, error) {
	return addNote(ctx, userKey, text, p.insertNotes)
}

// SeedNotes implements Store.
func (p *Postgres) SeedNotes(ctx context.Context, userKey string, count int) ([]Note, error) {
	return seedNotes(ctx, userKey, count, p.insertNotes)
}

// insertNotes writes notes for one user in one transaction, all or none,
// refusing them with ErrTooManyNotes if they would take the user past
// MaxNotesPerUser. The user's advisory lock is held from the count to the
// commit, so concurrent writers, in any process, cannot both pass the
// check. (A row lock would not do: a user may have notes and no users
// row.)
func (p *Postgres) insertNotes(ctx context.Context, userKey string, notes []Note) error {
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, pgLockNotes, noteLockID(userKey)); err != nil {
			return fmt.Errorf("lock notes: %w", err)
		}
		var have int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM notes WHERE user_key = $1`, userKey).Scan(&have); err != nil {
			return fmt.Errorf("count notes: %w", err)
		}
		if have+len(notes) > MaxNotesPerUser {
			return fmt.Errorf("user has %d notes, adding %d exceeds %d: %w", have, len(notes), MaxNotesPerUser, ErrTooManyNotes)
		}
		// Queued in order: seq follows the order of notes.
		var b pgx.Batch
		for _, n := range notes {
			b.Queue(`INSERT INTO notes(id, user_key, text, created_at) VALUES ($1, $2, $3, $4)`,
				n.ID, userKey, n.Text, n.CreatedAt)
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("insert notes: %w", err)
		}
		return nil
	})
}

// noteLockID is the advisory lock id of a user's notes: the first 32 bits
// of the (already uniformly random) user key. Two users sharing an id only
// share a lock.
func noteLockID(userKey string) int32 {
	v, _ := strconv.ParseUint(userKey[:8], 16, 32) // checkUserKey: 64 hex characters
	return int32(uint32(v))
}

// ListNotes implements Store.
func (p *Postgres) ListNotes(ctx context.Context, userKey string, limit int) ([]Note, error) {
	if err := checkUserKey(userKey); err != nil {
		return nil, err
	}
	rows, err := p.pool.Query(ctx, `SELECT id, text, created_at FROM notes WHERE user_key = $1
		ORDER BY seq DESC LIMIT $2`, userKey, listLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("store: list notes: %w", err)
	}
	notes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Note, error) {
		var n Note
		err := row.Scan(&n.ID, &n.Text, &n.CreatedAt)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list notes: %w", err)
	}
	return notes, nil
}

// EnsureUser implements Store. The users row is inserted with ON CONFLICT
// DO NOTHING inside the seeding transaction, and deals are written only
// when that insert took effect. A concurrent insert of the same key, from
// any process, waits for this transaction to end and then finds the row.
func (p *Postgres) EnsureUser(ctx context.Context, userKey string) (created bool, dealsCreated int, err error) {
	if err := checkUserKey(userKey); err != nil {
		return false, 0, err
	}
	// Most calls find the user: answer those without a write.
	var exists bool
	if err := p.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE user_key = $1)`, userKey).Scan(&exists); err != nil {
		return false, 0, fmt.Errorf("store: ensure user: %w", err)
	}
	if exists {
		return false, 0, nil
	}
	err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		now := time.Now().UnixMilli()
		tag, err := tx.Exec(ctx, `INSERT INTO users(user_key, created_at) VALUES ($1, $2) ON CONFLICT (user_key) DO NOTHING`, userKey, now)
		if err != nil {
			return fmt.Errorf("insert user: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // another caller seeded this user first
		}
		created = true
		dealsCreated, err = pgInsertDeals(ctx, tx, userKey, now)
		return err
	})
	if err != nil {
		return false, 0, fmt.Errorf("store: ensure user: %w", err)
	}
	return created, dealsCreated, nil
}

// ResetUser implements Store. The upsert of the users row comes first: it
// creates the user if needed and locks the row until commit, so that
// concurrent resets and first uses of this user, in any process, queue
// behind this one; the DELETE that follows then sees every deal they
// committed.
func (p *Postgres) ResetUser(ctx context.Context, userKey string) (int, error) {
	if err := checkUserKey(userKey); err != nil {
		return 0, err
	}
	var n int
	err := pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		now := time.Now().UnixMilli()
		if _, err := tx.Exec(ctx, `INSERT INTO users(user_key, created_at) VALUES ($1, $2)
			ON CONFLICT (user_key) DO UPDATE SET created_at = excluded.created_at`, userKey, now); err != nil {
			return fmt.Errorf("upsert user: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM deals WHERE user_key = $1`, userKey); err != nil {
			return fmt.Errorf("delete deals: %w", err)
		}
		var err error
		n, err = pgInsertDeals(ctx, tx, userKey, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: reset user: %w", err)
	}
	return n, nil
}

// pgInsertDeals writes SeedDeals(userKey) with fresh ids and created_at
// now+i, as the original, in one COPY, and returns how many it wrote.
func pgInsertDeals(ctx context.Context, tx pgx.Tx, userKey string, now int64) (int, error) {
	deals := SeedDeals(userKey)
	rows := make([][]any, len(deals))
	for i, d := range deals {
		rows[i] = []any{newDealID(), userKey, d.Account, d.AmountCents, d.CloseDate, d.Stage, now + int64(i)}
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"deals"},
		[]string{"id", "user_key", "account", "amount_cents", "close_date", "stage", "created_at"},
		pgx.CopyFromRows(rows))
	if err != nil {
		return 0, fmt.Errorf("insert deals: %w", err)
	}
	return int(n), nil
}

// SalesSummary implements Store.
func (p *Postgres) SalesSummary(ctx context.Context, userKey string, year, quarter int) (Summary, error) {
	if err := checkUserKey(userKey); err != nil {
		return Summary{}, err
	}
	if err := checkYear(year); err != nil {
		return Summary{}, err
	}
	sum := Summary{Year: year, Quarter: quarter, Range: QuarterRange(year, quarter)}
	err := p.pool.QueryRow(ctx, `SELECT count(*), COALESCE(sum(amount_cents), 0)::bigint FROM deals
		WHERE user_key = $1 AND stage = 'won' AND close_date >= $2 AND close_date < $3`,
		userKey, sum.Range.Start, sum.Range.EndExclusive).Scan(&sum.DealsWon, &sum.RevenueCents)
	if err != nil {
		return Summary{}, fmt.Errorf("store: sales summary: %w", err)
	}
	return sum, nil
}

// Counts implements Store.
func (p *Postgres) Counts(ctx context.Context) (users, deals int, err error) {
	err = p.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM deals)`).Scan(&users, &deals)
	if err != nil {
		return 0, 0, fmt.Errorf("store: counts: %w", err)
	}
	return users, deals, nil
}
