package demoapi

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDollars checks dollars against JavaScript's (cents/100).toFixed(0),
// negative amounts included (which the demo CRM never holds): the values in
// "want" are what node prints.
func TestDollars(t *testing.T) {
	tests := []struct {
		cents int64
		want  string
	}{
		{0, "0"}, {49, "0"}, {50, "1"}, {99, "1"}, {100, "1"}, {150, "2"}, {250, "3"},
		{150050, "1501"}, {999999950, "10000000"},
		{-40, "-0"}, {-50, "-1"}, {-150050, "-1501"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, dollars(tt.cents), "%d cents", tt.cents)
	}
}
