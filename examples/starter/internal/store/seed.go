package store

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// Deal stages.
const (
	StageWon  = "won"
	StageLost = "lost"
	StageOpen = "open"
)

// Deal is one demo CRM deal, as SeedDeals generates it.
type Deal struct {
	// Account is one of the six demo accounts ("Acme Co", "Globex", …).
	Account string
	// AmountCents is the deal's value in cents.
	AmountCents int64
	// CloseDate is the close date, "YYYY-MM-DD", in 2024 or 2025.
	CloseDate string
	// Stage is StageWon, StageLost or StageOpen.
	Stage string
}

// SeedDeals returns the demo deals of a user, in insertion order. It is a
// pure function of the user key and reproduces the TypeScript starter's
// generator draw for draw, so a user sees the same figures in both:
//
//   - the generator is mulberry32 seeded with the first four bytes, read
//     little-endian, of sha256(userKey) (the hex string's bytes);
//   - 40+⌊r·40⌋ deals; per deal, in this order: year (r<0.55 ? 2025 : 2024),
//     month ⌊r·12⌋, day 1+⌊r·28⌋, stage [won,lost,open][⌊r·3⌋],
//     base 800+r·18000 dollars, account [six accounts][⌊r·6⌋];
//   - amount = JavaScript Math.round(base·(open ? 0.7 : 1)·100) cents.
//
// testdata/seed_reference.mjs is that description in JavaScript; the tests
// compare both field by field.
func SeedDeals(userKey string) []Deal {
	accounts := [...]string{"Acme Co", "Globex", "Initech", "Umbrella", "Stark Industries", "Wayne Enterprises"}
	stages := [...]string{StageWon, StageLost, StageOpen}
	rng := rngFor(userKey)
	n := 40 + int(math.Floor(rng.next()*40))
	deals := make([]Deal, n)
	for i := range deals {
		year := 2024
		if rng.next() < 0.55 {
			year = 2025
		}
		month := int(math.Floor(rng.next() * 12)) // 0-based, as in JavaScript
		day := 1 + int(math.Floor(rng.next()*28)) // ≤ 28: valid in every month
		stage := stages[int(math.Floor(rng.next()*float64(len(stages))))]
		// The explicit float64 conversions stop the compiler from fusing a
		// multiply and an add (FMA), which JavaScript never does: the
		// result must round exactly as V8's.
		base := 800 + float64(rng.next()*18000)
		account := accounts[int(math.Floor(rng.next()*float64(len(accounts))))]
		amount := base
		if stage == StageOpen {
			amount = float64(base * 0.7)
		}
		deals[i] = Deal{
			Account:     account,
			AmountCents: int64(jsRound(float64(amount * 100))),
			CloseDate:   fmt.Sprintf("%04d-%02d-%02d", year, month+1, day),
			Stage:       stage,
		}
	}
	return deals
}

// rngFor returns the generator of a user's deals: mulberry32 seeded with
// sha256(userKey).readUInt32LE(0), as the original.
func rngFor(userKey string) *mulberry32 {
	sum := sha256.Sum256([]byte(userKey))
	return &mulberry32{state: binary.LittleEndian.Uint32(sum[:4])}
}

// mulberry32 is the small PRNG of the original starter, with JavaScript's
// semantics: 32-bit wrapping integer arithmetic (Math.imul, >>>) and a
// result in [0, 1) obtained by dividing by 2³².
type mulberry32 struct{ state uint32 }

func (m *mulberry32) next() float64 {
	m.state += 0x6d2b79f5
	t := m.state
	t = (t ^ t>>15) * (t | 1)
	t ^= t + (t^t>>7)*(t|61)
	return float64(t^t>>14) / 4294967296
}

// jsRound is JavaScript's Math.round: the nearest integer, halves rounded
// towards +∞ (Go's math.Round rounds them away from zero). x-⌊x⌋ is exact in
// binary floating point, so there is no double rounding as in ⌊x+0.5⌋.
func jsRound(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	f := math.Floor(x)
	if x-f >= 0.5 {
		return f + 1
	}
	return f
}
