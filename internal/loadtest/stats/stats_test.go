package stats_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/idgate/idgate/internal/loadtest/stats"
)

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{7}, 7},
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.in...)
			require.Equal(t, tt.want, stats.Median(tt.in))
			require.Equal(t, in, tt.in, "the input is left as it was")
		})
	}
}

func ExampleMedian() {
	// Per-round ratios of one server's throughput to another's.
	fmt.Println(stats.Median([]float64{0.97, 0.88, 1.02, 0.91}))
	// Output: 0.94
}
