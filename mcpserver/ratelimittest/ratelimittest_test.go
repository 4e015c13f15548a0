package ratelimittest_test

import (
	"testing"

	"github.com/idgate/idgate/mcpserver"
	"github.com/idgate/idgate/mcpserver/ratelimittest"
)

// The suite holds for the in-memory store, on a manual clock.
func TestMemoryStore(t *testing.T) {
	ratelimittest.Run(t, func(t *testing.T) ratelimittest.Harness {
		clock := ratelimittest.NewClock()
		s := mcpserver.NewMemoryStore(mcpserver.MemoryStoreConfig{Now: clock.Now})
		return ratelimittest.Harness{Store: s, Advance: clock.Advance}
	})
}
