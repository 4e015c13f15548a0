package demoapi

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CrossUserResult is crmAttemptCrossUserRead's answer, a 200 with "ok":false
// so that the model reads the explanation (the TypeScript starter answered
// 403, and the model saw only "Tool … failed: 403").
type CrossUserResult struct {
	// OK is false.
	OK bool `json:"ok"`
	// Error is "cross_user_access_denied".
	Error string `json:"error"`
	// RequestedTarget is the targetUser asked for, as given.
	RequestedTarget string `json:"requested_target"`
	// ActualScope is the caller's label: whose data the caller can read.
	ActualScope string `json:"actual_scope"`
	// Explanation says why the read is impossible.
	Explanation string `json:"explanation"`
	// HowToDemo says how to see the isolation for oneself.
	HowToDemo string `json:"how_to_demo"`
	// Summary is the text for the model: "❌ Access denied: you are
	// <label> and can only read your own CRM data. …".
	Summary string `json:"summary"`
}

// crossUserArgs are crmAttemptCrossUserRead's arguments.
type crossUserArgs struct {
	TargetUser *string `json:"targetUser"`
}

// crmAttemptCrossUserRead is the crmAttemptCrossUserRead tool. It reads
// nothing: no tool takes a user id, so the target is never looked up (not
// even to say whether it exists), and the answer is the same for every
// target.
func (h *handler) crmAttemptCrossUserRead(_ context.Context, c *call) (any, error) {
	var in crossUserArgs
	if err := c.bind(&in); err != nil {
		return nil, err
	}
	switch {
	case in.TargetUser == nil || strings.TrimSpace(*in.TargetUser) == "":
		return nil, invalidInput("targetUser is required")
	case utf8.RuneCountInString(*in.TargetUser) > MaxTargetUserChars:
		return nil, invalidInput(fmt.Sprintf("targetUser must be at most %d characters", MaxTargetUserChars))
	case strings.ContainsFunc(*in.TargetUser, unicode.IsControl):
		return nil, invalidInput("targetUser must not contain control characters")
	}
	target := *in.TargetUser
	return CrossUserResult{
		OK:              false,
		Error:           "cross_user_access_denied",
		RequestedTarget: target,
		ActualScope:     c.label,
		Explanation: "Every CRM query is keyed by the user key derived from your verified token, " +
			"and no tool accepts a user id, so another user's data cannot be addressed at all.",
		HowToDemo: "Sign in as a second user (alice and bob in -dev mode), run crmInit and " +
			"crmGetSalesSummary as each, and compare: each sees only their own figures.",
		Summary: fmt.Sprintf("❌ Access denied: you are %s and can only read your own CRM data. "+
			"Every query is keyed by your verified identity, so \"%s\" is out of reach by construction.", c.label, target),
	}, nil
}
