// Package store is the starter's data layer: per-user notes and the demo CRM
// (users and their deals), behind the small Store interface so that the same
// tools run on SQLite (the embedded default, OpenSQLite) or on PostgreSQL
// (OpenPostgres), which several replicas of the starter can share. Open
// picks one from the starter's DATABASE_URL.
//
// Every row is keyed by a user key, never by the raw subject: callers derive
// it with UserKey(salt, sub), an HMAC, and show only Label(userKey). Methods
// refuse anything that is not a user key (ErrBadUserKey), so a raw subject
// cannot end up in the database by mistake.
//
//	s, err := store.Open(ctx, os.Getenv("DATABASE_URL"), "./data/crm.sqlite")
//	if err != nil { ... }
//	defer s.Close()
//	key := store.UserKey(salt, id.Subject)
//	if _, _, err := s.EnsureUser(ctx, key); err != nil { ... } // seeds the demo CRM once
//	sum, err := s.SalesSummary(ctx, key, 2025, 2)
//
// The CRM data is seeded deterministically from the user key (SeedDeals) and
// reproduces the numbers of the TypeScript starter this project replaces, so
// a user sees the same sales figures in both, across restarts and resets.
//
// Inputs are bounded here as well as in the tool layer (MaxNoteBytes,
// MaxNotesPerUser, MaxSeedNotes, MaxListNotes): nothing a user sends can grow
// the database without limit. Errors a caller may show a user are the
// exported sentinels; test for them with errors.Is.
//
// Package storetest holds the contract every Store implementation must pass.
package store
