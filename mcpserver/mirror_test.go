package mcpserver_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity"
	"github.com/idgate/idgate/mcpserver"
)

// slowAS is an authorization server whose metadata fetches number
// holdFrom and later wait until release is called; each document carries
// its fetch number as "n".
type slowAS struct {
	*httptest.Server
	fetches  atomic.Int32
	arrived  chan struct{} // one send per held fetch, when it arrives
	released chan struct{}
	once     sync.Once
}

func newSlowAS(t *testing.T, holdFrom int32) *slowAS {
	as := &slowAS{arrived: make(chan struct{}, 16), released: make(chan struct{})}
	as.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := as.fetches.Add(1)
		if n >= holdFrom {
			as.arrived <- struct{}{}
			<-as.released
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"issuer":"`+as.URL+`","n":`+strconv.Itoa(int(n))+`}`)
	}))
	t.Cleanup(as.Close)
	t.Cleanup(as.release) // runs first: Close waits for held handlers
	return as
}

func (as *slowAS) release() { as.once.Do(func() { close(as.released) }) }

// waitArrived waits for a held fetch to reach the authorization server.
func (as *slowAS) waitArrived(t *testing.T) {
	t.Helper()
	select {
	case <-as.arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the mirror never fetched the metadata")
	}
}

type mirrorResult struct {
	status int
	body   string
	err    error
}

func getMirror(e *env) <-chan mirrorResult {
	ch := make(chan mirrorResult, 1)
	go func() {
		resp, err := e.http.Client().Get(e.http.URL + "/.well-known/oauth-authorization-server")
		if err != nil {
			ch <- mirrorResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		ch <- mirrorResult{status: resp.StatusCode, body: string(b), err: err}
	}()
	return ch
}

func newMirrorEnv(t *testing.T, as *slowAS, ttl time.Duration) *env {
	srv, err := mcpserver.New(mcpserver.Config{
		Name: "crm", PublicURL: publicURL, AuthorizationServers: []string{as.URL},
		Verifier:                          identity.VerifierFunc(func(context.Context, string) (*identity.Identity, error) { return nil, identity.ErrMalformedToken }),
		MirrorAuthorizationServerMetadata: true,
		MirrorTTL:                         ttl,
	})
	require.NoError(t, err)
	e := serve(t, srv.Handler())
	t.Cleanup(as.release) // before e's Close, which waits for requests held by a fetch
	return e
}

// TestMirrorServesStaleCopyDuringRefresh: while one request refreshes an
// expired copy from a slow authorization server, another request gets the
// stale copy at once. It used to wait for the refresh (up to the fetch
// timeout, 10 s), because the mirror held its mutex during the fetch.
func TestMirrorServesStaleCopyDuringRefresh(t *testing.T) {
	as := newSlowAS(t, 2)
	e := newMirrorEnv(t, as, time.Nanosecond) // every copy is stale at once

	first := <-getMirror(e)
	require.NoError(t, first.err)
	require.Equal(t, http.StatusOK, first.status, first.body)
	require.Contains(t, first.body, `"n":1`)

	refresher := getMirror(e)
	as.waitArrived(t) // the refresh is under way, held by the AS

	select {
	case r := <-getMirror(e):
		require.NoError(t, r.err)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Contains(t, r.body, `"n":1`, "the stale copy")
	case <-time.After(5 * time.Second):
		t.Fatal("a request waited for another's refresh although a stale copy exists")
	}
	require.Equal(t, int32(2), as.fetches.Load(), "one fetch at a time")

	as.release()
	r := <-refresher
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.status, r.body)
	require.Contains(t, r.body, `"n":2`, "the refreshed copy")
}

// TestMirrorFirstFetchIsShared: with no copy at all, concurrent requests
// wait for the one fetch under way and are served its document.
func TestMirrorFirstFetchIsShared(t *testing.T) {
	as := newSlowAS(t, 1)
	e := newMirrorEnv(t, as, 0)

	results := []<-chan mirrorResult{getMirror(e)}
	as.waitArrived(t)
	for range 3 {
		results = append(results, getMirror(e))
	}
	as.release()
	for _, ch := range results {
		r := <-ch
		require.NoError(t, r.err)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Contains(t, r.body, `"n":1`)
	}
	require.Equal(t, int32(1), as.fetches.Load(), "one fetch for all")
}
