package store_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/store"
	"github.com/idgate/idgate/examples/starter/internal/store/storetest"
)

func TestSQLiteContract(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "crm.sqlite")
		return func(t *testing.T) store.Store {
			s, err := store.OpenSQLite(context.Background(), path)
			require.NoError(t, err)
			return s
		}
	})
}

func TestOpenSQLiteCreatesDirectoryWALAndSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nested", "data", "crm.sqlite")
	s, err := store.OpenSQLite(ctx, path)
	require.NoError(t, err)
	_, _, err = s.EnsureUser(ctx, store.UserKey([]byte("salt"), "alice"))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// Inspect the file with a plain connection.
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var mode string
	require.NoError(t, db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)

	rows, err := db.QueryContext(ctx, `SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`)
	require.NoError(t, err)
	defer rows.Close()
	var objects []string
	for rows.Next() {
		var typ, name string
		require.NoError(t, rows.Scan(&typ, &name))
		objects = append(objects, typ+" "+name)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{
		"index idx_deals_user_close",
		"index idx_deals_user_stage",
		"index idx_notes_user_seq",
		"table deals",
		"table notes",
		"table users",
	}, objects)
}

func TestOpenSQLiteInMemory(t *testing.T) {
	ctx := context.Background()
	s, err := store.OpenSQLite(ctx, ":memory:")
	require.NoError(t, err)
	defer s.Close()
	alice := store.UserKey([]byte("salt"), "alice")
	created, n, err := s.EnsureUser(ctx, alice)
	require.NoError(t, err)
	require.True(t, created)
	users, deals, err := s.Counts(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, users)
	require.Equal(t, n, deals, "one connection, one in-memory database")
}

func TestOpenSQLiteRejectsBadPaths(t *testing.T) {
	dir := t.TempDir()
	rows := map[string]string{
		"empty":            "",
		"query string":     filepath.Join(dir, "crm.sqlite?mode=ro"),
		"uri":              "file:" + filepath.Join(dir, "crm.sqlite"),
		"parent is a file": filepath.Join(dir, "crm.sqlite", "x", "y"),
	}
	// Create crm.sqlite, a regular file that "parent is a file" puts in its path.
	s, err := store.OpenSQLite(context.Background(), filepath.Join(dir, "crm.sqlite"))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	for name, path := range rows {
		t.Run(name, func(t *testing.T) {
			s, err := store.OpenSQLite(context.Background(), path)
			require.Error(t, err)
			require.Nil(t, s)
		})
	}
}
