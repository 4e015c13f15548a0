package mcpserver

import (
	"context"
	"net/http"
	"slices"
	"sync"
)

// listenStreams bounds the subscriptions/listen streams each user holds
// open at once (Config.MaxListenStreamsPerUser): a protocol 2026-07-28
// listen stream is a POST whose response lasts as long as the client
// keeps it, costing one rate-limit unit however long that is.
type listenStreams struct {
	max int
	mu  sync.Mutex
	// byUser lists each user's open streams, oldest first.
	byUser map[string][]*listenStream
}

// listenStream is one open listen stream: cancel ends it.
type listenStream struct{ cancel context.CancelFunc }

// newListenStreams returns the bound of n streams per user, nil when
// n is not positive (no bound).
func newListenStreams(n int) *listenStreams {
	if n <= 0 {
		return nil
	}
	return &listenStreams{max: n, byUser: make(map[string][]*listenStream)}
}

// open counts the listen stream r opens for user and returns r with a
// context that ends when the stream is evicted, and the function to call
// once the stream has ended. When the user holds max streams already,
// the oldest is ended.
func (l *listenStreams) open(r *http.Request, user string) (*http.Request, func()) {
	ctx, cancel := context.WithCancel(r.Context())
	ls := &listenStream{cancel: cancel}
	l.mu.Lock()
	list := l.byUser[user]
	var evicted *listenStream
	if len(list) >= l.max {
		evicted = list[0]
		list = slices.Delete(list, 0, 1)
	}
	l.byUser[user] = append(list, ls)
	l.mu.Unlock()
	if evicted != nil {
		evicted.cancel()
	}
	return r.WithContext(ctx), func() {
		cancel()
		l.mu.Lock()
		defer l.mu.Unlock()
		list := l.byUser[user]
		if i := slices.Index(list, ls); i >= 0 {
			list = slices.Delete(list, i, i+1)
			if len(list) == 0 {
				delete(l.byUser, user)
			} else {
				l.byUser[user] = list
			}
		}
	}
}

// carriesListen reports whether one of msgs is a subscriptions/listen.
func carriesListen(msgs []peeked) bool {
	for i := range msgs {
		if methodIs(msgs[i].method, "subscriptions/listen") {
			return true
		}
	}
	return false
}
