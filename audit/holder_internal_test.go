package audit

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/internal/reqctx"
)

// TestMiddlewareHoldsIdentity: the context Middleware passes on keeps one
// identity, for the request it passed on, while that request is served.
func TestMiddlewareHoldsIdentity(t *testing.T) {
	a, err := New(Config{Logger: slog.New(slog.DiscardHandler), SubjectKey: make([]byte, 32)})
	require.NoError(t, err)
	first, second := new(int), new(int)
	var holder reqctx.Holder
	var served *http.Request
	h := a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		require.Nil(t, ctx.Value(reqctx.IdentityKey{}), "no identity before one is held")
		var ok bool
		holder, ok = ctx.(reqctx.Holder)
		require.True(t, ok)
		served = r
		require.False(t, holder.HoldIdentity(r.Clone(ctx), first), "another request")
		require.False(t, holder.HoldIdentity(r, nil), "no identity")
		// The served request with another context put in it in place:
		// something between could carry another identity.
		saved := *r
		*r = *r.WithContext(context.WithValue(ctx, struct{ k int }{1}, "v"))
		require.False(t, holder.HoldIdentity(r, first), "the request's context is no longer the holder")
		*r = saved
		require.Nil(t, ctx.Value(reqctx.IdentityKey{}))
		require.True(t, holder.HoldIdentity(r, first))
		require.False(t, holder.HoldIdentity(r, second), "one identity only")
		require.Same(t, first, ctx.Value(reqctx.IdentityKey{}))
		require.NotNil(t, RequestID(ctx), "the node answers the Middleware's own keys still")
		require.NotNil(t, EntryFrom(ctx))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	require.Same(t, first, served.Context().Value(reqctx.IdentityKey{}))

	// Once the request is over, its holder lets go of it (the entry may
	// outlive the request) and holds nothing for it any more.
	h = a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		holder, _ = r.Context().(reqctx.Holder)
		served = r
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	require.NotNil(t, holder)
	require.False(t, holder.HoldIdentity(served, second), "the request is over")
	require.Nil(t, served.Context().Value(reqctx.IdentityKey{}))
}
