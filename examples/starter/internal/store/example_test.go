package store_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/idgate/idgate/examples/starter/internal/store"
)

// Open picks the database from DATABASE_URL: PostgreSQL for a postgres://
// URL (shared by every replica), else the SQLite file. Each user's CRM is
// seeded once, on first use.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// DATABASE_URL="" here; "postgres://app@db:5432/crm" in a deployment.
	s, err := store.Open(ctx, "", filepath.Join(dir, "crm.sqlite"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	key := store.UserKey([]byte("PII_SALT from the environment"), "auth0|alice")
	created, _, err := s.EnsureUser(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	again, _, err := s.EnsureUser(ctx, key)
	if err != nil {
		log.Fatal(err)
	}
	note, err := s.AddNote(ctx, key, "call Globex on Monday")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(store.Label(key), created, again, note.Text)
	// Output: user-6c8c97 true false call Globex on Monday
}
