package demoapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// WhoamiResult is whoami's answer: who the verified caller is, and what
// their token allows.
type WhoamiResult struct {
	// OK is true.
	OK bool `json:"ok"`
	// Proof is "✅ Verified OAuth JWT for <email> (expires in ~N min)", or
	// "… for sub <first 18 characters of sub>… (…)" without an email.
	Proof string `json:"proof"`
	// Verified is true: the token was verified.
	Verified bool `json:"verified"`
	// Source is "jwt".
	Source string `json:"source"`
	// User is the caller.
	User WhoamiUser `json:"user"`
	// Authorization describes the user's token.
	Authorization WhoamiAuthorization `json:"authorization"`
	// Request identifies the request and the build that answered it.
	Request WhoamiRequest `json:"request"`
	// Summary is the text for the model: Proof.
	Summary string `json:"summary"`
}

// WhoamiUser is the caller of whoami.
type WhoamiUser struct {
	// Sub is the verified subject.
	Sub string `json:"sub"`
	// UserKey is the user's label, store.Label(store.UserKey(PIISalt, sub)):
	// "user-" and six hex digits of an HMAC, which cannot be traced back to
	// the subject. (The TypeScript starter showed base64url(sub)[0:10],
	// which can.)
	UserKey string `json:"user_key"`
	// Email and Name are the token's claims; null when absent.
	Email *string `json:"email"`
	Name  *string `json:"name"`
}

// WhoamiAuthorization describes the user's token as the gateway verified it
// (see the package documentation for the claims it is read from).
type WhoamiAuthorization struct {
	// Issuer is the user's token's issuer.
	Issuer string `json:"issuer"`
	// Audience is its audience: a string, or an array when it names
	// several.
	Audience any `json:"audience"`
	// Scope is the space-separated scope the backend was granted.
	Scope string `json:"scope"`
	// ScopeList is Scope split on spaces (only), never null.
	ScopeList []string `json:"scope_list"`
	// Permissions is the user's "permissions" (Auth0), sent by the gateway
	// as "user_permissions"; never null.
	Permissions []string `json:"permissions"`
	// IssuedAt and ExpiresAt are its "iat" and "exp", in Unix seconds; null
	// when unknown.
	IssuedAt  *int64 `json:"iat"`
	ExpiresAt *int64 `json:"exp"`
	// ExpiresIn is the number of seconds until ExpiresAt, never negative;
	// null when ExpiresAt is.
	ExpiresIn *int64 `json:"exp_in_seconds"`
}

// WhoamiRequest identifies a request.
type WhoamiRequest struct {
	// RequestID is the X-Request-Id the gateway sent, or the id the backend
	// gave the request.
	RequestID string `json:"requestId"`
	// Rev and SHA are Config.Revision and Config.GitSHA.
	Rev string `json:"rev"`
	SHA string `json:"sha"`
}

// whoami is the whoami tool.
func (h *handler) whoami(_ context.Context, c *call) (any, error) {
	id := c.id
	now := h.now()
	auth := WhoamiAuthorization{
		Issuer:      id.Issuer,
		Audience:    audienceValue(id.Audience),
		Permissions: stringsClaim(id.Claims["permissions"]),
		IssuedAt:    unixOrNil(id.IssuedAt),
		ExpiresAt:   unixOrNil(id.ExpiresAt),
	}
	if iss, ok := id.Claims["user_iss"].(string); ok && iss != "" {
		auth.Issuer = iss
	}
	if aud, ok := audienceClaim(id.Claims["user_aud"]); ok {
		auth.Audience = aud
	}
	if t, ok := unixClaim(id.Claims["user_iat"]); ok {
		auth.IssuedAt = &t
	}
	if t, ok := unixClaim(id.Claims["user_exp"]); ok {
		auth.ExpiresAt = &t
	}
	if p, ok := id.Claims["user_permissions"].([]any); ok {
		auth.Permissions = stringsClaim(p)
	}
	auth.Scope, _ = id.Claims["scope"].(string)
	if auth.Scope == "" {
		auth.Scope = id.Scopes.String()
	}
	// Split as the gateway's verifier splits it, on spaces only: a tab
	// or a Unicode space is part of the scope it is in.
	auth.ScopeList = []string{}
	for rest := auth.Scope; rest != ""; {
		var f string
		f, rest, _ = strings.Cut(rest, " ")
		if f != "" {
			auth.ScopeList = append(auth.ScopeList, f)
		}
	}

	var who string
	if id.Email != "" {
		who = id.Email
	} else {
		who = "sub " + firstChars(id.Subject, 18) + "…"
	}
	proof := "✅ Verified OAuth JWT for " + who
	if auth.ExpiresAt != nil {
		in := max(*auth.ExpiresAt-now.Unix(), 0)
		auth.ExpiresIn = &in
		proof += fmt.Sprintf(" (expires in ~%d min)", (in+30)/60)
	}
	return WhoamiResult{
		OK:       true,
		Proof:    proof,
		Verified: true,
		Source:   "jwt",
		User: WhoamiUser{
			Sub:     id.Subject,
			UserKey: c.label,
			Email:   stringOrNil(id.Email),
			Name:    stringOrNil(id.Name),
		},
		Authorization: auth,
		Request:       WhoamiRequest{RequestID: c.requestID, Rev: h.revision, SHA: h.gitSHA},
		Summary:       proof,
	}, nil
}

// audienceValue renders a verified audience as the token had it: a string
// when there is one, an array otherwise.
func audienceValue(aud []string) any {
	if len(aud) == 1 {
		return aud[0]
	}
	if aud == nil {
		return []string{}
	}
	return aud
}

// audienceClaim reads an "aud"-shaped claim: a non-empty string, or an array
// of strings.
func audienceClaim(v any) (any, bool) {
	switch v := v.(type) {
	case string:
		return v, v != ""
	case []any:
		list := stringsClaim(v)
		return list, len(list) == len(v) && len(list) > 0
	}
	return nil, false
}

// stringsClaim returns the strings of an array claim; [] when v is not an
// array.
func stringsClaim(v any) []string {
	out := []string{}
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	case []string:
		out = append(out, v...)
	}
	return out
}

// unixClaim reads a NumericDate claim as whole Unix seconds.
func unixClaim(v any) (int64, bool) {
	var f float64
	switch v := v.(type) {
	case float64:
		f = v
	case json.Number:
		var err error
		if f, err = v.Float64(); err != nil {
			return 0, false
		}
	case int64:
		return v, true
	case int:
		return int64(v), true
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// unixOrNil returns t in Unix seconds, or nil for the zero time.
func unixOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}

// stringOrNil returns &s, or nil for "".
func stringOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// firstChars returns the first n characters (runes) of s.
func firstChars(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
