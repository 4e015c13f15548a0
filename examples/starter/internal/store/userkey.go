package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// UserKeyLen is the length of a user key: the hex encoding of a SHA-256 HMAC.
const UserKeyLen = 2 * sha256.Size

// UserKey returns the key under which a subject's data is stored:
// hex(HMAC-SHA256(salt, sub)), 64 lowercase hex characters. The salt (the
// starter's PII_SALT) must stay secret and stable: without it a key cannot be
// traced back to a subject, and changing it orphans every user's data.
func UserKey(salt []byte, sub string) string {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(sub))
	return hex.EncodeToString(m.Sum(nil))
}

// Label returns the name under which a user is shown: "user-" and the first
// six characters of the user key (the whole key if it is shorter). It is the
// only user name the demo tools ever display.
func Label(userKey string) string {
	if len(userKey) > 6 {
		userKey = userKey[:6]
	}
	return "user-" + userKey
}

// validUserKey reports whether k has the form UserKey produces.
func validUserKey(k string) bool {
	if len(k) != UserKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
