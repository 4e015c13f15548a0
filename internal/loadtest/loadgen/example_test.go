package loadgen_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/internal/loadtest/echo"
	"github.com/idgate/idgate/internal/loadtest/loadgen"
)

// Load a go-sdk server with 8 sessions until 100 calls have completed.
func Example() {
	s := mcp.NewServer(&mcp.Implementation{Name: "example", Version: "1"}, nil)
	mcp.AddTool(s, echo.Tool(), echo.Handler)
	hs := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s }, nil))
	defer hs.Close()

	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Addr:        strings.TrimPrefix(hs.URL, "http://"),
		Connections: 8,
		Warmup:      -1,
		Duration:    time.Minute,
		Requests:    100,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.Sessions, res.Requests >= 100, res.Errors)
	// Output: 8 true 0
}
