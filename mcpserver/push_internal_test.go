package mcpserver

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPushWaitingAfterResponse: a message a handler's goroutine sends
// while it waits for room (push's backpressure) is never queued behind the
// call's response, nor clears the mark that the response is in: else the
// stream's writer would take the response as not the last, and wait for
// ever (the POST would never end).
func TestPushWaitingAfterResponse(t *testing.T) {
	response := []byte("event: message\ndata: {\"result\":{}}\n\n")
	for i := range 50 {
		c := &directCall{wake: make(chan struct{}, 1)}
		require.True(t, c.push(make([]byte, maxQueuedCallBytes), false))
		res := make(chan bool, 1)
		go func() { res <- c.push([]byte("event: message\ndata: {\"progress\":1}\n\n"), false) }()
		require.Eventually(t, func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return c.room != nil
		}, 5*time.Second, time.Millisecond, "the push waits for room")
		c.take() // the writer takes what is queued, which wakes the push
		require.True(t, c.push(response, true), "the response")
		<-res
		events, final, _, _ := c.take()
		require.True(t, final, "iteration %d: the response is still marked as in", i)
		require.NotEmpty(t, events)
		require.True(t, bytes.Equal(response, events[len(events)-1]), "iteration %d: nothing is queued behind the response", i)
	}
}
