package demoapi

import (
	"context"
	"fmt"
	"strconv"

	"github.com/idgate/idgate/examples/starter/internal/store"
)

// CRMInitResult is crmInit's answer.
type CRMInitResult struct {
	// OK is true.
	OK bool `json:"ok"`
	// Welcome describes the caller's demo CRM.
	Welcome CRMWelcome `json:"welcome"`
	// Summary is the text for the model: "Welcome <label>. Created N dummy
	// deals for you." (or "… Your demo CRM is ready." when it existed),
	// then " Database: X users, Y total entries. Try: “What were my sales
	// in Q2 2025?”".
	Summary string `json:"summary"`
}

// CRMWelcome is the body of crmInit's answer.
type CRMWelcome struct {
	// User is the caller's label.
	User string `json:"user"`
	// Seeded is true when this call created the caller's data.
	Seeded bool `json:"seeded"`
	// CreatedDeals is how many deals this call created (0 if none).
	CreatedDeals int `json:"createdDeals"`
	// DBUsers is how many users the whole database holds.
	DBUsers int `json:"dbUsers"`
	// DBEntries is users plus deals, over the whole database.
	DBEntries int `json:"dbEntries"`
	// Try suggests three questions.
	Try []string `json:"try"`
}

// SalesSummaryResult is crmGetSalesSummary's answer.
type SalesSummaryResult struct {
	// OK is true.
	OK bool `json:"ok"`
	// User is the caller's label.
	User string `json:"user"`
	// Summary is the sales object, under the TypeScript starter's name.
	Summary store.Summary `json:"summary"`
	// SummaryText is the text for the model: "📊 Sales in Q<q> <y>:
	// $<dollars> across <n> won deals." The field is not named "summary",
	// which the sales object already is.
	SummaryText string `json:"summary_text"`
}

// ExplainAccessResult is crmExplainAccess' answer.
type ExplainAccessResult struct {
	// OK is true.
	OK bool `json:"ok"`
	// Access explains what the caller can and cannot read, and why.
	Access CRMAccess `json:"access"`
	// Summary is the text for the model, starting "🔐 You are <label>. You
	// can access YOUR mock CRM data".
	Summary string `json:"summary"`
}

// CRMAccess is the body of crmExplainAccess' answer.
type CRMAccess struct {
	// YouAre is the caller's label.
	YouAre string `json:"you_are"`
	// CanAccess, CannotAccess and Why have three sentences each.
	CanAccess    []string `json:"can_access"`
	CannotAccess []string `json:"cannot_access"`
	Why          []string `json:"why"`
	// Proof holds the figures behind the explanation.
	Proof AccessProof `json:"proof"`
	// TryNext suggests three things to try.
	TryNext []string `json:"try_next"`
}

// AccessProof holds the figures of crmExplainAccess.
type AccessProof struct {
	// SeededNow is true when this call created the caller's data.
	SeededNow bool `json:"seeded_now"`
	// CreatedDeals is how many deals this call created (0 if none).
	CreatedDeals int `json:"created_deals"`
	// DBUsers is how many users the whole database holds.
	DBUsers int `json:"db_users"`
	// DBEntries is users plus deals, over the whole database.
	DBEntries int `json:"db_entries"`
}

// ResetResult is crmResetMyData's answer.
type ResetResult struct {
	// OK and Reset are true.
	OK    bool `json:"ok"`
	Reset bool `json:"reset"`
	// User is the caller's label.
	User string `json:"user"`
	// Seeded is true: the data was seeded again.
	Seeded bool `json:"seeded"`
	// CreatedDeals is how many deals were written; the same deals as the
	// first seed.
	CreatedDeals int `json:"createdDeals"`
	// DBUsers is how many users the whole database holds.
	DBUsers int `json:"dbUsers"`
	// DBEntries is users plus deals, over the whole database.
	DBEntries int `json:"dbEntries"`
	// Summary is the text for the model: "🔄 Reset complete for <label>.
	// Reseeded N dummy deals."
	Summary string `json:"summary"`
}

// crmInit is the crmInit tool.
func (h *handler) crmInit(ctx context.Context, c *call) (any, error) {
	created, n, err := h.store.EnsureUser(ctx, c.userKey)
	if err != nil {
		return nil, storeError("ensure user", err)
	}
	users, entries, err := h.counts(ctx)
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("Welcome %s. Your demo CRM is ready.", c.label)
	if created {
		text = fmt.Sprintf("Welcome %s. Created %d dummy deals for you.", c.label, n)
	}
	text += fmt.Sprintf(" Database: %d users, %d total entries. Try: “What were my sales in Q2 2025?”", users, entries)
	return CRMInitResult{
		OK: true,
		Welcome: CRMWelcome{
			User:         c.label,
			Seeded:       created,
			CreatedDeals: n,
			DBUsers:      users,
			DBEntries:    entries,
			Try: []string{
				"What were my sales in Q2 2025?",
				"Explain what CRM data I can access.",
				"Try to read another user's CRM data.",
			},
		},
		Summary: text,
	}, nil
}

// salesArgs are crmGetSalesSummary's arguments.
type salesArgs struct {
	Year    *int `json:"year"`
	Quarter *int `json:"quarter"`
}

// crmGetSalesSummary is the crmGetSalesSummary tool. It seeds the caller's
// data first if needed, so that the first question has an answer.
func (h *handler) crmGetSalesSummary(ctx context.Context, c *call) (any, error) {
	var in salesArgs
	if err := c.bind(&in); err != nil {
		return nil, err
	}
	switch {
	case in.Year == nil:
		return nil, invalidInput("year is required")
	case *in.Year < MinYear || *in.Year > MaxYear:
		return nil, invalidInput(fmt.Sprintf("year must be %d..%d", MinYear, MaxYear))
	case in.Quarter == nil:
		return nil, invalidInput("quarter is required")
	case *in.Quarter < 1 || *in.Quarter > 4:
		return nil, invalidInput("quarter must be 1..4")
	}
	if _, _, err := h.store.EnsureUser(ctx, c.userKey); err != nil {
		return nil, storeError("ensure user", err)
	}
	sum, err := h.store.SalesSummary(ctx, c.userKey, *in.Year, *in.Quarter)
	if err != nil {
		return nil, storeError("sales summary", err)
	}
	return SalesSummaryResult{
		OK:      true,
		User:    c.label,
		Summary: sum,
		SummaryText: fmt.Sprintf("📊 Sales in Q%d %d: $%s across %d won deals.",
			sum.Quarter, sum.Year, dollars(sum.RevenueCents), sum.DealsWon),
	}, nil
}

// dollars formats cents as whole dollars the way JavaScript's
// (cents/100).toFixed(0) does: rounded half away from zero (so half up for
// the non-negative amounts the CRM holds), "-" kept for negatives. For
// integer cents the division is exact enough that rounding the integer
// gives the same digits as rounding the double.
func dollars(cents int64) string {
	if cents < 0 {
		return "-" + dollars(-cents)
	}
	return strconv.FormatInt(cents/100+(cents%100+50)/100, 10)
}

// crmExplainAccess is the crmExplainAccess tool.
func (h *handler) crmExplainAccess(ctx context.Context, c *call) (any, error) {
	created, n, err := h.store.EnsureUser(ctx, c.userKey)
	if err != nil {
		return nil, storeError("ensure user", err)
	}
	users, entries, err := h.counts(ctx)
	if err != nil {
		return nil, err
	}
	return ExplainAccessResult{
		OK: true,
		Access: CRMAccess{
			YouAre: c.label,
			CanAccess: []string{
				"Your own demo CRM deals and the sales summaries computed from them.",
				"Your own notes.",
				"Resetting your own demo data, which reseeds the same deals.",
			},
			CannotAccess: []string{
				"Any other user's deals or sales figures.",
				"Any other user's notes.",
				"The account ids (subjects) behind the user labels.",
			},
			Why: []string{
				"Every request carries a token that the backend verifies itself; your user key is an HMAC of that token's subject.",
				"Every query is keyed by that user key, and no tool accepts a user id, so another user's rows cannot even be named.",
				"Each tool also checks its own scope (starter.crm for the CRM), so a token without it is refused.",
			},
			Proof: AccessProof{SeededNow: created, CreatedDeals: n, DBUsers: users, DBEntries: entries},
			TryNext: []string{
				"What were my sales in Q2 2025?",
				"Try to read another user's data with crmAttemptCrossUserRead.",
				"Reset my demo data with crmResetMyData, then ask again: the figures stay the same.",
			},
		},
		Summary: fmt.Sprintf("🔐 You are %s. You can access YOUR mock CRM data and nothing else: the database holds %d users and %d entries, and every query is keyed by your verified identity.",
			c.label, users, entries),
	}, nil
}

// crmResetMyData is the crmResetMyData tool.
func (h *handler) crmResetMyData(ctx context.Context, c *call) (any, error) {
	n, err := h.store.ResetUser(ctx, c.userKey)
	if err != nil {
		return nil, storeError("reset user", err)
	}
	users, entries, err := h.counts(ctx)
	if err != nil {
		return nil, err
	}
	return ResetResult{
		OK:           true,
		Reset:        true,
		User:         c.label,
		Seeded:       true,
		CreatedDeals: n,
		DBUsers:      users,
		DBEntries:    entries,
		Summary:      fmt.Sprintf("🔄 Reset complete for %s. Reseeded %d dummy deals.", c.label, n),
	}, nil
}

// counts returns the database's user count and its entries (users plus
// deals).
func (h *handler) counts(ctx context.Context) (users, entries int, err error) {
	users, deals, err := h.store.Counts(ctx)
	if err != nil {
		return 0, 0, storeError("count", err)
	}
	return users, users + deals, nil
}
