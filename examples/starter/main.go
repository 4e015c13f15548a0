// Command starter is idgate's template MCP server: ten demo tools (whoami,
// echo, notes, a demo CRM) where every call is tied to the verified user,
// reaching a demo backend through proxy with a token the gateway signs for
// it.
//
//	go run ./examples/starter -dev        # no account needed: sign in as alice or bob
//	go run ./examples/starter             # with your identity provider (see .env.example)
//	go run ./examples/starter token -user alice -scopes "starter.whoami"
//	go run ./examples/starter demo-api    # the demo backend alone
//
// Configuration comes from the environment and from a .env file in the
// working directory (the environment wins). See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first signal starts a graceful shutdown; a second one ends the
	// process at once.
	context.AfterFunc(ctx, stop)
	env, err := environment(os.Environ(), ".env")
	if err == nil {
		err = run(ctx, os.Args[1:], env, os.Stdout, os.Stderr)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}
