// Package everything is an MCP server built with mcpserver that implements
// what the server scenarios of the official conformance suite
// (@modelcontextprotocol/conformance, pinned in ../testdata) call: the
// test_* tools (text, image, audio, embedded resource, mixed content,
// logging, progress, errors, sampling, elicitation), the test:// resources
// and resource template, the test_* prompts, completion, resource
// subscriptions and logging/setLevel.
//
// It exists for idgate's interop tests only. Its tools declare scopes like
// any idgate server's (ScopeContent, ScopeNotify, ScopeClient), so a test
// that runs the suite through a proxy adding a token with Scopes() drives
// the whole idgate chain — audit, Origin policy, token verification, rate
// limits, the step-up check — before go-sdk answers.
//
//	srv, err := everything.New(mcpserver.Config{
//		Name:                 "everything",
//		PublicURL:            "http://127.0.0.1:8080/mcp",
//		AuthorizationServers: []string{iss.URL()},
//		Verifier:             v,
//	})
//	hs := &http.Server{Addr: "127.0.0.1:8080", Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
//	log.Fatal(hs.ListenAndServe())
package everything
