package serve_test

import (
	"context"
	"net/http"

	"github.com/idgate/idgate/internal/loadtest/servers/serve"
)

// A server program serves its handler until SIGINT or SIGTERM.
func Example() {
	ctx, stop := serve.Context()
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	cancel() // a real server runs until SIGINT or SIGTERM
	_ = serve.Run(ctx, "127.0.0.1:0", http.NotFoundHandler())
}
