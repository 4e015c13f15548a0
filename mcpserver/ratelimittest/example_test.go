package ratelimittest_test

import (
	"testing"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/mcpserver/ratelimittest"
)

// A store's own test runs the suite. A store that takes its time from a
// function uses a Clock; one on a server's clock shifts its stored state
// instead (see redislimit's tests).
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T) in a _test.go file
		ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
			clock := ratelimittest.NewClock()
			s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{Now: clock.Now})
			return ratelimittest.Harness{Store: s, Advance: clock.Advance}
		})
	}
}
