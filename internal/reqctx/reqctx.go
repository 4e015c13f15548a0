// Package reqctx lets idgate's middlewares share one context node per
// request.
//
// audit.Middleware puts its per-request state in the request's context as
// a node of its own. That node also keeps the caller's identity once
// identity.Middleware has verified it, so the identity middleware needs
// neither a context value nor a copy of the request of its own: one
// request copy less on every authenticated call, about a fifth of what
// the whole chain allocated.
package reqctx

import "net/http"

// IdentityKey is the context key of the caller's *identity.Identity.
type IdentityKey struct{}

// EntryKey is the context key of the request's *audit.Entry (audit.EntryFrom).
// audit.Middleware's node answers it; so may a context that serves one
// operation of a request in another request's context (an MCP session's
// handler runs in that of the request that opened the session).
type EntryKey struct{}

// RequestIDKey is the context key of the request id (audit.RequestID).
// audit.Middleware's node answers it; so may a context that serves one
// operation of a request in another request's context, with the id of the
// request that carried the operation.
type RequestIDKey struct{}

// A Holder is a context node that can keep the caller's identity for one
// request: once it holds one, its Value(IdentityKey{}) returns it. Only a
// request's own context can hold its identity, so a Holder is found by a
// type assertion on r.Context(), never by a lookup through the context.
type Holder interface {
	// HoldIdentity keeps id, a non-nil *identity.Identity, and reports
	// true, when r is the very request the holder's middleware passed on,
	// r's context is still the holder itself (so that nothing between can
	// carry another identity), and the holder keeps no identity yet.
	// Otherwise it does nothing and reports false: the caller puts the
	// identity in a context of its own.
	HoldIdentity(r *http.Request, id any) bool
}
