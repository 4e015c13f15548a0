package demoapi_test

import (
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/identity/identitytest"
)

// errDatabase stands for any storage failure that is not a typed store
// error.
var errDatabase = errors.New("sqlite: disk I/O error")

// TestLogsNeverHoldTokens runs accepted, refused and failed calls with a
// Debug logger and checks that no token, and no raw subject, is logged,
// while the records the operator needs are.
func TestLogsNeverHoldTokens(t *testing.T) {
	iss := identitytest.NewIssuer(t)
	fs := &fakeStore{Store: openStore(t, filepath.Join(t.TempDir(), "crm.sqlite"))}
	e := startEnv(t, iss, fs)
	const sub = "auth0|secret-subject-42"
	good := e.token(t, sub, nil)
	noScope := e.token(t, sub, []string{"starter.echo"})
	expired := e.token(t, sub, nil, identitytest.ExpiresIn(-time.Hour))
	forged := e.token(t, sub, nil, identitytest.ForeignKey())
	wrongAud := e.token(t, sub, nil, identitytest.Audience("https://elsewhere.example"))
	tokens := []string{good, noScope, expired, forged, wrongAud, "opaque-secret-token-value"}

	e.call(t, good, "whoami", "{}", "X-Request-Id", "req-log-1")
	e.call(t, good, "addNote", `{"text":"hello"}`)
	e.call(t, good, "echo", `{"message":`)
	e.call(t, good, "noSuchTool", "{}")
	e.call(t, noScope, "crmInit", "{}")
	for _, tok := range tokens[2:] {
		e.call(t, tok, "whoami", "{}")
	}
	e.do(t, http.MethodPost, "/whoami?access_token="+good, "{}")
	fs.setErr(errDatabase)
	e.call(t, good, "listMyNotes", "{}")

	logs := e.logs.String()
	for _, tok := range tokens {
		require.NotContains(t, logs, tok)
		// Nor any of its three parts (a signature alone is a secret too).
		for _, part := range strings.Split(tok, ".") {
			if len(part) > 16 {
				require.NotContains(t, logs, part)
			}
		}
	}
	require.NotContains(t, logs, "secret-subject")

	// What the operator needs is there.
	for _, want := range []string{
		`"msg":"demoapi: tool call","tool":"whoami","status":200,"user":"` + labelOf(sub) + `","request_id":"req-log-1"`,
		`"tool":"addNote","status":200`,
		`"tool":"echo","status":400`,
		`"tool":"noSuchTool","status":404`,
		`"tool":"crmInit","status":403`,
		`"msg":"identity: request refused"`,
		`"msg":"demoapi: tool failed","tool":"listMyNotes"`,
	} {
		require.Contains(t, logs, want)
	}
	require.Equal(t, 5, strings.Count(logs, `"msg":"identity: request refused"`))
}
