package identity

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/idgate/idgate/scopes"
)

// WriteChallenge answers a request with status and challenge c. It sets
// WWW-Authenticate to c.String(), Content-Type to application/json and
// Cache-Control to no-store, and writes a small JSON body:
//
//	{"error":"invalid_token","error_description":"token expired"}
//
// The body's "error" is c.Error or, when that is empty (a challenge that
// must carry no error code, such as the answer to a request without a
// token), the status text in snake case ("unauthorized"); its
// "error_description" is c.ErrorDescription or the lower-case status text.
// Other headers (such as Retry-After) are left to the caller: set them
// before calling.
func WriteChallenge(w http.ResponseWriter, status int, c Challenge) {
	h := w.Header()
	h.Set("WWW-Authenticate", c.String())
	writeErrorBody(w, status, appendErrorBody(nil, status, c.Error, c.ErrorDescription))
}

// writeErrorBody sets the content headers of an error response and writes
// it.
func writeErrorBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// appendErrorBody appends the JSON error body WriteChallenge documents.
func appendErrorBody(b []byte, status int, code, description string) []byte {
	text := http.StatusText(status)
	if code == "" {
		code = strings.ReplaceAll(strings.ToLower(text), " ", "_")
		if code == "" {
			code = "error"
		}
	}
	if description == "" {
		description = strings.ToLower(text)
	}
	b = append(b, `{"error":`...)
	b = strconv.AppendQuote(b, code)
	b = append(b, `,"error_description":`...)
	b = strconv.AppendQuote(b, description)
	return append(b, '}', '\n')
}

// failure is how the middleware answers one kind of error.
type failure struct {
	err         error
	status      int
	code        string
	description string
}

// failures lists, in the order they are tested, the answer to each sentinel
// error. It is never modified.
var failures = [...]failure{
	{ErrMissingToken, http.StatusUnauthorized, "", ErrMissingToken.Error()},
	{ErrInvalidRequest, http.StatusBadRequest, ErrorCodeInvalidRequest, ErrInvalidRequest.Error()},
	{ErrKeysUnavailable, http.StatusServiceUnavailable, "", ErrKeysUnavailable.Error()},
	{ErrVerifierUnavailable, http.StatusServiceUnavailable, "", ErrVerifierUnavailable.Error()},
	{ErrEncryptedToken, http.StatusUnauthorized, ErrorCodeInvalidToken, "encrypted token (JWE) not supported"},
	{ErrOpaqueToken, http.StatusUnauthorized, ErrorCodeInvalidToken, "opaque token not accepted"},
	{ErrMalformedToken, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrMalformedToken.Error()},
	{ErrExpired, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrExpired.Error()},
	{ErrNotYetValid, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrNotYetValid.Error()},
	{ErrMissingClaim, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrMissingClaim.Error()},
	{ErrBadIssuer, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrBadIssuer.Error()},
	{ErrBadAudience, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrBadAudience.Error()},
	{ErrBadType, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrBadType.Error()},
	{ErrBoundToken, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrBoundToken.Error()},
	{ErrBadAlgorithm, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrBadAlgorithm.Error()},
	{ErrBadSignature, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrBadSignature.Error()},
	{ErrUnknownKey, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrUnknownKey.Error()},
	{ErrUnsupportedHeader, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrUnsupportedHeader.Error()},
	{ErrInactive, http.StatusUnauthorized, ErrorCodeInvalidToken, ErrInactive.Error()},
}

// unknownFailure answers an error that wraps no sentinel of this package
// (from a custom Verifier): the token is refused, fail closed.
var unknownFailure = failure{nil, http.StatusUnauthorized, ErrorCodeInvalidToken, "token invalid"}

// insufficientScopeFailure answers a *scopes.InsufficientScopeError.
var insufficientScopeFailure = failure{nil, http.StatusForbidden, ErrorCodeInsufficientScope, "insufficient scope"}

// failureIndex returns the index in failures of the first sentinel err
// wraps, len(failures) for a *scopes.InsufficientScopeError, and
// len(failures)+1 for anything else.
func failureIndex(err error) int {
	for i := range failures {
		if errors.Is(err, failures[i].err) {
			return i
		}
	}
	var ise *scopes.InsufficientScopeError
	if errors.As(err, &ise) {
		return len(failures)
	}
	return len(failures) + 1
}

func failureAt(i int) failure {
	switch {
	case i < len(failures):
		return failures[i]
	case i == len(failures):
		return insufficientScopeFailure
	default:
		return unknownFailure
	}
}

// Describe maps an error from BearerToken or a Verifier to the HTTP answer
// the middleware gives: the status, the RFC 6750 error code for the
// challenge's "error" parameter (empty: no error parameter), and a short
// fixed description safe to show a client. It never returns err's own text.
//
//   - nil: 200, "", "".
//   - ErrMissingToken: 401 with no error code (RFC 6750 §3.1: a request
//     without credentials gets no error information).
//   - ErrInvalidRequest: 400 "invalid_request".
//   - ErrKeysUnavailable, ErrVerifierUnavailable (see Unavailable): 503 with
//     no error code. The token was not judged, so nothing may tell the
//     client to discard it; the middleware adds Retry-After and sends no
//     WWW-Authenticate on a 503.
//   - *scopes.InsufficientScopeError: 403 "insufficient_scope".
//   - every other sentinel (ErrExpired, ErrBadAudience, ErrEncryptedToken,
//     ...): 401 "invalid_token" with the sentinel's text (for
//     ErrEncryptedToken the short form "encrypted token (JWE) not
//     supported").
//   - an error that wraps no sentinel: 401 "invalid_token", "token invalid".
func Describe(err error) (status int, code, description string) {
	if err == nil {
		return http.StatusOK, "", ""
	}
	f := failureAt(failureIndex(err))
	return f.status, f.code, f.description
}
