package redislimit

import (
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timeouts NewClient sets when the URL does not.
const (
	// DefaultDialTimeout bounds connecting to Redis.
	DefaultDialTimeout = time.Second
	// DefaultReadWriteTimeout bounds one read or write on a connection.
	DefaultReadWriteTimeout = 500 * time.Millisecond
)

// NewClient returns a client for the Redis server at url
// ("redis://[user:password@]host:6379/0", "rediss://…" for TLS, or
// "unix:///path/to/redis.sock"), tuned for a rate limiter, where an
// answer that comes late is no better than none: short timeouts
// (DefaultDialTimeout, DefaultReadWriteTimeout) unless the URL sets
// dial_timeout, read_timeout or write_timeout; one dial attempt per try
// instead of go-redis's five, so a refused connection fails fast; and
// ContextTimeoutEnabled, so that Options.Timeout bounds every call. Other
// go-redis URL parameters are honoured. It does not contact the server;
// the caller closes the client.
//
// Errors never contain url, which may hold a password.
func NewClient(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		// go-redis's message may quote the URL: say what is wrong without it.
		return nil, errors.New("redislimit: invalid Redis URL (not shown: it may hold a password): want redis://host:port/db, rediss://… or unix://…")
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultReadWriteTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultReadWriteTimeout
	}
	opts.DialerRetries = 1
	opts.ContextTimeoutEnabled = true
	return redis.NewClient(opts), nil
}
