package redislimit_test

import (
	"log"
	"log/slog"
	"os"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/mcpserver/redislimit"
)

// Every replica of a server points at the same Redis: a user's requests
// are counted once, whichever replica they reach. Store errors are counted
// and logged; FailOpen says what a request gets while Redis is down.
func Example() {
	client, err := redislimit.NewClient(os.Getenv("REDIS_URL")) // "redis://redis:6379/0"
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	limits := redislimit.New(client, redislimit.Options{
		// The same secret on every replica (32 random bytes, from the
		// deployment's secrets): Redis then holds keyed hashes only.
		HashKey: []byte(os.Getenv("RATE_LIMIT_HASH_KEY")),
		OnError: func(err error) { slog.Warn("rate-limit store", "error", err) },
	})

	srv, err := mcpserver.New(mcpserver.Config{
		Name:                 "crm",
		PublicURL:            "https://mcp.example.com/mcp",
		AuthorizationServers: []string{"https://tenant.example.com/"},
		Verifier:             nil, // identity.NewJWTVerifier(...)
		Stateless:            true,
		RateLimit: mcpserver.RateLimitConfig{
			User:     mcpserver.Limit{Rate: 600},
			Store:    limits,
			FailOpen: false, // Redis down: 503, not unlimited
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = srv // serve srv.Handler() from an http.Server with ReadHeaderTimeout (see package mcpserver)
	// Export limits.Errors() as a metric beside the server's others.
}
