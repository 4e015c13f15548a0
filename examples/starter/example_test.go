package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/idgate/idgate/identity/identitytest"
)

// Example builds the starter in process, as its tests do: configuration
// from an environment map, the app from the configuration, served over
// HTTP; here with an identitytest issuer standing in for the identity
// provider. A REST call then goes through the gateway to the demo backend,
// with a token the gateway signs for it.
func Example() {
	iss, err := identitytest.StartIssuer()
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	dir, err := os.MkdirTemp("", "starter-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	srv := httptest.NewUnstartedServer(nil)
	mcpURL := "http://" + srv.Listener.Addr().String() + "/mcp"
	cfg, _, err := loadConfig(map[string]string{
		"OAUTH_ISSUER": iss.URL(),
		"PUBLIC_URL":   mcpURL,
		"PII_SALT":     "example-salt-0123456789",
		"CRM_DB_PATH":  filepath.Join(dir, "crm.sqlite"),
	}, false)
	if err != nil {
		panic(err)
	}
	a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		panic(err)
	}
	defer a.Close(context.Background())
	srv.Config.Handler = a.Handler()
	srv.Start()
	defer srv.Close()

	tok, _ := iss.MintToken(identitytest.Subject("alice"), identitytest.Audience(mcpURL), identitytest.Scopes("starter.echo"))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/tools/echo", strings.NewReader(`{"message":"hello"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var answer struct {
		OK   bool `json:"ok"`
		Data struct {
			Summary string `json:"summary"`
		} `json:"data"`
		UID string `json:"uid"`
	}
	_ = json.Unmarshal(body, &answer)
	fmt.Println(resp.StatusCode, answer.OK, answer.UID, answer.Data.Summary)
	// Output: 200 true alice Echo: hello
}
