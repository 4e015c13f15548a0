package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAuditEvents checks that MCP and REST calls each leave one audit event
// naming the tool and the decision, with the subject hashed under
// USER_HASH_SALT (never raw) and the request id the client sent.
func TestAuditEvents(t *testing.T) {
	const auditSalt = "audit-salt-0123456789abcdef"
	e := newTestEnv(t, map[string]string{"USER_HASH_SALT": auditSalt})
	tok := e.mint("alice-subject", allScopes...)
	r := e.do("POST", "/tools/echo", `{"message":"hi"}`, append(auth(tok), "X-Request-Id", "audit-rest-1")...)
	require.Equal(t, 200, r.status, r.raw)
	r = e.do("POST", "/tools/crmInit", "", append(auth(e.mint("alice-subject", "starter.echo")), "X-Request-Id", "audit-rest-2")...)
	require.Equal(t, 403, r.status, r.raw)
	cs := e.connect(tok)
	callTool(t, cs, "whoami", map[string]any{})
	cs.Close()
	e.srv.Close() // waits for every request to finish, and so for its event

	m := hmac.New(sha256.New, []byte(auditSalt))
	m.Write([]byte("alice-subject"))
	hashed := hex.EncodeToString(m.Sum(nil)[:16])

	events := map[string]map[string]any{} // by request id, REST
	var mcpTools []string
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	for sc.Scan() {
		var ev map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &ev))
		if ev["msg"] != "audit" {
			continue
		}
		if ev["sub"] != nil {
			require.Equal(t, hashed, ev["sub"], "subjects are hashed with USER_HASH_SALT")
		}
		if id, _ := ev["request_id"].(string); strings.HasPrefix(id, "audit-rest-") {
			events[id] = ev
		}
		if ev["path"] == "/mcp" && ev["tool"] != nil {
			mcpTools = append(mcpTools, ev["tool"].(string))
		}
	}
	require.NotContains(t, e.logs.String(), `"alice-subject"`, "the raw subject is never logged")
	require.Equal(t, "echo", events["audit-rest-1"]["tool"])
	require.Equal(t, "allow", events["audit-rest-1"]["decision"])
	require.Equal(t, 200.0, events["audit-rest-1"]["status"])
	require.Equal(t, "crmInit", events["audit-rest-2"]["tool"])
	require.Equal(t, "deny", events["audit-rest-2"]["decision"])
	require.Equal(t, "insufficient_scope", events["audit-rest-2"]["reason"])
	require.Contains(t, mcpTools, "whoami")
	require.Equal(t, defaultServiceName, events["audit-rest-1"]["service"], "events carry the logger's attributes")
}
