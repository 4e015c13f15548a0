package store_test

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/examples/starter/internal/store"
)

// The original starter's identity tests, plus a known answer.
func TestUserKey(t *testing.T) {
	salt := []byte("test-salt")
	k := store.UserKey(salt, "auth0|abc123")
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}$`), k)
	require.Len(t, k, store.UserKeyLen)
	require.Equal(t, k, store.UserKey(salt, "auth0|abc123"), "deterministic")
	require.NotEqual(t, k, store.UserKey(salt, "auth0|abc124"), "different subjects differ")
	require.NotEqual(t, k, store.UserKey([]byte("other-salt"), "auth0|abc123"), "different salts differ")
	// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
	require.Equal(t, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
		store.UserKey([]byte("Jefe"), "what do ya want for nothing?"))
}

func TestLabel(t *testing.T) {
	rows := map[string]string{
		"abcdef1234567890": "user-abcdef",
		"abcdef":           "user-abcdef",
		"abc":              "user-abc",
		"":                 "user-",
	}
	for in, want := range rows {
		require.Equal(t, want, store.Label(in), "Label(%q)", in)
	}
}
