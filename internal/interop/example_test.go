package interop_test

import (
	"strings"
	"testing"
	"time"

	"github.com/idgate/idgate/internal/interop"
)

// Run an npm-installed client from a test: here the conformance suite's
// list of server scenarios. (Run needs the test's *testing.T, so the
// example shows the body of a test function.)
func ExampleRun() {
	testListScenarios := func(t *testing.T) {
		res := interop.Run(t, time.Minute, nil, "conformance", "list", "--server")
		if res.ExitCode != 0 || !strings.Contains(res.Stdout, "tools-call-simple-text") {
			t.Fatalf("conformance list: %s", res)
		}
	}
	_ = testListScenarios
}
