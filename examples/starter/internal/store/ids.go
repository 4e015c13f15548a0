package store

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// newDealID returns "deal_" and a random (version 4) UUID.
func newDealID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("deal_%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newNoteID returns "note_<ms>_<random hex>". The original used
// "note_<ms>_<i>", unique only within one process's map; notes now share a
// table (and may share it across replicas), so the suffix is random.
func newNoteID(ms int64) string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("note_%d_%s", ms, hex.EncodeToString(b[:]))
}

// seedNoteText is the text of the i-th (1-based) demo note of a user. The
// original wrote the first ten characters of the raw subject here
// ("Hello auth0|1234… (#1)"), which shows part of the user's identifier to
// the model and anything that logs tool results; the label is what every
// other tool shows, so it is used instead.
func seedNoteText(userKey string, i int) string {
	return fmt.Sprintf("Hello %s… (#%d)", Label(userKey), i)
}
