package nilcheck

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsNil(t *testing.T) {
	var client *http.Client
	var handler http.Handler
	var fn http.HandlerFunc
	var m map[string]int
	require.True(t, IsNil(nil))
	require.True(t, IsNil(client))
	require.True(t, IsNil(handler))
	require.True(t, IsNil(fn))
	require.True(t, IsNil(m))
	require.True(t, IsNil(http.Handler(fn)))
	require.False(t, IsNil(&http.Client{}))
	require.False(t, IsNil(http.NotFoundHandler()))
	require.False(t, IsNil(0))
	require.False(t, IsNil("x"))
	require.False(t, IsNil(struct{}{}))
}
