package echo_test

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/idgate/idgate/internal/loadtest/echo"
)

func Example() {
	res, _, _ := echo.Handler(context.Background(), nil, echo.Input{Message: "hi"})
	fmt.Println(res.Content[0].(*mcp.TextContent).Text)
	// Output: Echo: hi
}
