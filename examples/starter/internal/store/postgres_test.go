package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/examples/starter/internal/store/storetest"
)

// defaultPostgresURL is the test server when IDGATE_TEST_POSTGRES_URL is
// unset: the local PostgreSQL that .ci/run starts.
const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// postgresBaseURL returns the test server's URL.
func postgresBaseURL() string {
	if u := os.Getenv("IDGATE_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return defaultPostgresURL
}

// connectAdmin opens a plain connection to the test server, failing the
// test (never skipping it) when the server cannot be reached.
func connectAdmin(t *testing.T) *pgx.Conn {
	t.Helper()
	base := postgresBaseURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		shown := "(unparsable URL)"
		if u, perr := url.Parse(base); perr == nil {
			shown = u.Redacted()
		}
		t.Fatalf("PostgreSQL at %s is unreachable: %v\n"+
			"These tests need a real server: start it (.ci/run does) or set IDGATE_TEST_POSTGRES_URL.", shown, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// newSchema creates a schema of a random name on the test server, dropped
// when the test ends, and returns its name and a URL whose search_path is
// that schema: storage used by nothing else, even with tests running in
// parallel.
func newSchema(t *testing.T) (name, schemaURL string) {
	t.Helper()
	admin := connectAdmin(t)
	var b [8]byte
	rand.Read(b[:])
	name = "idgate_test_" + hex.EncodeToString(b[:])
	_, err := admin.Exec(context.Background(), "CREATE SCHEMA "+name)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := admin.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
		require.NoError(t, err)
	})
	return name, withSearchPath(t, postgresBaseURL(), name)
}

// withSearchPath returns base with its search_path parameter set to schema.
func withSearchPath(t *testing.T, base, schema string) string {
	t.Helper()
	u, err := url.Parse(base)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openPostgres(t *testing.T, u string) *store.Postgres {
	t.Helper()
	s, err := store.OpenPostgres(context.Background(), u)
	require.NoError(t, err)
	return s
}

// The same contract as SQLite, each Opener handle a pool of its own on
// one schema: two handles are two replicas.
func TestPostgresContract(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) storetest.Opener {
		_, u := newSchema(t)
		return func(t *testing.T) store.Store { return openPostgres(t, u) }
	})
}

// Four replicas start at once on an empty schema (the migration races),
// then every one of them seeds the same users at the same moment: one data
// set per user.
func TestPostgresReplicasSeedConcurrently(t *testing.T) {
	_, u := newSchema(t)
	ctx := context.Background()
	const replicas = 4
	stores := make([]*store.Postgres, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = store.OpenPostgres(ctx, u) })
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "replica %d", i)
		t.Cleanup(func() { require.NoError(t, stores[i].Close()) })
	}

	salt := []byte("replicas")
	users := []string{store.UserKey(salt, "alice"), store.UserKey(salt, "bob"), store.UserKey(salt, "carol")}
	const callersPerReplica = 6
	type result struct {
		user    int
		created bool
		deals   int
		err     error
	}
	results := make(chan result, replicas*callersPerReplica*len(users))
	start := make(chan struct{})
	for r := range replicas {
		for c := range callersPerReplica {
			for u := range users {
				wg.Go(func() {
					<-start
					created, deals, err := stores[(r+c)%replicas].EnsureUser(ctx, users[u])
					results <- result{u, created, deals, err}
				})
			}
		}
	}
	close(start)
	wg.Wait()
	close(results)

	created := make([]int, len(users))
	for res := range results {
		require.NoError(t, res.err)
		if res.created {
			created[res.user]++
			require.Equal(t, len(store.SeedDeals(users[res.user])), res.deals)
		} else {
			require.Zero(t, res.deals)
		}
	}
	require.Equal(t, []int{1, 1, 1}, created, "exactly one caller seeds each user")
	wantDeals := 0
	for _, k := range users {
		wantDeals += len(store.SeedDeals(k))
	}
	for i, s := range stores {
		n, d, err := s.Counts(ctx)
		require.NoError(t, err)
		require.Equal(t, len(users), n, "users seen by replica %d", i)
		require.Equal(t, wantDeals, d, "deals seen by replica %d", i)
	}
}

// The schema is created in the search_path's schema, recorded as version
// 1 once however often it is opened, and a newer schema is refused.
func TestPostgresSchemaVersion(t *testing.T) {
	ctx := context.Background()
	admin := connectAdmin(t)
	name, u := newSchema(t)
	for range 3 {
		require.NoError(t, openPostgres(t, u).Close())
	}

	var tables []string
	rows, err := admin.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 ORDER BY table_name`, name)
	require.NoError(t, err)
	tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"deals", "notes", "schema_version", "users"}, tables)

	rows, err = admin.Query(ctx, fmt.Sprintf(`SELECT version FROM %s.schema_version`, name))
	require.NoError(t, err)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(t, err)
	require.Equal(t, []int32{store.PostgresSchemaVersion}, versions, "each migration is recorded once")

	_, err = admin.Exec(ctx, fmt.Sprintf(`INSERT INTO %s.schema_version(version) VALUES (99)`, name))
	require.NoError(t, err)
	s, err := store.OpenPostgres(ctx, u)
	require.ErrorContains(t, err, "schema is version 99")
	require.Nil(t, s)
}

// Two schemas on one database hold separate data: search_path is honoured
// by every statement.
func TestPostgresSearchPathIsolates(t *testing.T) {
	ctx := context.Background()
	_, u1 := newSchema(t)
	_, u2 := newSchema(t)
	s1, s2 := openPostgres(t, u1), openPostgres(t, u2)
	defer s1.Close()
	defer s2.Close()
	alice := store.UserKey([]byte("salt"), "alice")
	_, _, err := s1.EnsureUser(ctx, alice)
	require.NoError(t, err)
	_, err = s1.AddNote(ctx, alice, "in schema one")
	require.NoError(t, err)

	users, deals, err := s2.Counts(ctx)
	require.NoError(t, err)
	require.Zero(t, users)
	require.Zero(t, deals)
	notes, err := s2.ListNotes(ctx, alice, 0)
	require.NoError(t, err)
	require.Empty(t, notes)
}

func TestOpenPostgresErrors(t *testing.T) {
	missing := withSearchPath(t, postgresBaseURL(), "idgate_test_no_such_schema")
	rows := []struct {
		name, url, want string
	}{
		{"unparsable", "postgres://user:s3cret-pw@host:notaport/db", "invalid PostgreSQL URL"},
		{"unreachable", "postgres://user:s3cret-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", "store: postgres schema"},
		{"search_path schema missing", missing, "store: postgres schema"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			s, err := store.OpenPostgres(context.Background(), row.url)
			require.ErrorContains(t, err, row.want)
			require.NotContains(t, err.Error(), "s3cret-pw", "a password never appears in an error")
			require.Nil(t, s)
		})
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, pgURL := newSchema(t)
	rows := []struct {
		name        string
		databaseURL string
		sqlitePath  string
		want        any    // the Store's type, when it opens
		wantErr     string // else the error's text
	}{
		{"empty URL: the SQLite path", "", dir + "/default.sqlite", &store.SQLite{}, ""},
		{"sqlite:PATH", "sqlite:" + dir + "/a.sqlite", "unused", &store.SQLite{}, ""},
		{"sqlite:///ABSOLUTE", "sqlite://" + dir + "/b.sqlite", "", &store.SQLite{}, ""},
		{"SQLITE: case-insensitive", "SQLITE:" + dir + "/c.sqlite", "", &store.SQLite{}, ""},
		{"postgres://", pgURL, "unused", &store.Postgres{}, ""},
		{"postgresql://", "postgresql" + pgURL[len("postgres"):], "", &store.Postgres{}, ""},
		{"nothing at all", "", "", nil, "set DATABASE_URL or an SQLite path"},
		{"unknown scheme", "mysql://root:s3cret-pw@db/crm", "", nil, `scheme "mysql" is not supported`},
		{"no scheme", "/var/lib/crm.sqlite", "", nil, "has no scheme"},
		{"password without scheme", "s3cret-pw", "", nil, "has no scheme"},
		{"sqlite with a host", "sqlite://host/crm.sqlite", "", nil, "sqlite URL with a host"},
		{"sqlite without a path", "sqlite:", "", nil, "without a valid path"},
		{"bad postgres URL", "postgres://u:s3cret-pw@h:x/db", "", nil, "invalid PostgreSQL URL"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			s, err := store.Open(ctx, row.databaseURL, row.sqlitePath)
			if row.wantErr != "" {
				require.ErrorContains(t, err, row.wantErr)
				require.NotContains(t, err.Error(), "s3cret-pw", "a password never appears in an error")
				require.Nil(t, s)
				return
			}
			require.NoError(t, err)
			defer s.Close()
			require.IsType(t, row.want, s)
			_, err = s.AddNote(ctx, store.UserKey([]byte("salt"), "alice"), "it works")
			require.NoError(t, err)
		})
	}
}
