// Package redislimit is an mcpserver.RateLimitStore on Redis, for servers
// that run as several replicas: every replica counts a user's requests in
// the same place, so a user's limit holds across all of them.
//
//	client, err := redislimit.NewClient(os.Getenv("REDIS_URL"))
//	if err != nil { ... }
//	defer client.Close()
//	limits := redislimit.New(client, redislimit.Options{HashKey: secret})
//	srv, err := mcpserver.New(mcpserver.Config{
//		// ...
//		Stateless: true,
//		RateLimit: mcpserver.RateLimitConfig{Store: limits, FailOpen: false},
//	})
//
// The algorithm is mcpserver's GCRA, run as one Lua script (atomic on the
// server) on the Redis server's clock, so replicas whose clocks disagree
// still agree on every decision. Each key holds one number and expires
// when idle; keys are hashed, so no user identifier is written to Redis in
// clear. Give every replica the same secret as Options.HashKey: the hashes
// are then keyed, and a guessed subject or address cannot be tested against
// them by whoever reads Redis.
//
// When Redis cannot answer, Allow returns an error after at most
// Options.Timeout, and mcpserver's RateLimitConfig.FailOpen decides:
// refuse with 503 (the default) or let the request through. Either way
// mcpserver logs the failure; Store.Errors counts them and Options.OnError
// sees each one.
//
// Tested against Redis 7; any Redis from 5 on (scripts replicated by
// effects, so TIME may precede a write) will do, as will Redis Cluster
// (one key per script).
package redislimit
