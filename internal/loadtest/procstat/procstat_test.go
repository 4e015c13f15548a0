package procstat

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name string
		line string
		want time.Duration
		err  bool
	}{
		{
			name: "plain",
			line: "4242 (idgate) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 25 0 0 20 0 8 0 100 1000000 2000 18446744073709551615",
			want: 1750 * time.Millisecond,
		},
		{
			name: "command with spaces and parentheses",
			line: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 6 7",
			want: 70 * time.Millisecond,
		},
		{name: "no command", line: "7 a R 1", err: true},
		{name: "short", line: "7 (a) R 1 2 3", err: true},
		{name: "not a number", line: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 x 4 0", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStat([]byte(tt.line))
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestParseStatusKB(t *testing.T) {
	status := "Name:\tidgate\nVmPeak:\t  800000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n"
	tests := []struct {
		name, status, key string
		want              int64
		err               bool
	}{
		{name: "peak", status: status, key: "VmHWM:", want: 20 << 20},
		{name: "current", status: status, key: "VmRSS:", want: 10 << 20},
		{name: "missing", status: "Name:\tx\n", key: "VmHWM:", err: true},
		{name: "no unit", status: "VmHWM:\t12\n", key: "VmHWM:", err: true},
		{name: "not a number", status: "VmHWM:\tx kB\n", key: "VmHWM:", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatusKB([]byte(tt.status), tt.key)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestSelf reads this very process, which has used some CPU and memory.
func TestSelf(t *testing.T) {
	pid := os.Getpid()
	// Work until the kernel has counted at least one clock tick (bounded:
	// a tick is 10 ms of CPU, far less than the bound).
	var (
		cpu time.Duration
		err error
		sum int
	)
	for round := 0; round < 1000 && cpu == 0; round++ {
		for i := range 1_000_000 {
			sum += i % 7
		}
		cpu, err = CPU(pid)
		require.NoError(t, err)
	}
	require.NotZero(t, sum)
	require.Positive(t, cpu)
	rss, err := RSS(pid)
	require.NoError(t, err)
	peak, err := PeakRSS(pid) // read second: it cannot be below rss
	require.NoError(t, err)
	require.Positive(t, rss)
	require.GreaterOrEqual(t, peak, rss)
	require.NoError(t, ResetPeakRSS(pid))
}

func TestParseSwitches(t *testing.T) {
	status := "Name:\tidgate\nVmHWM:\t20480 kB\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n"
	s, err := parseSwitches([]byte(status))
	require.NoError(t, err)
	require.Equal(t, Switches{Voluntary: 1234, Involuntary: 56}, s)

	for name, bad := range map[string]string{
		"missing":      "Name:\tx\n",
		"one of two":   "voluntary_ctxt_switches:\t1\n",
		"not a number": "voluntary_ctxt_switches:\tx\nnonvoluntary_ctxt_switches:\t1\n",
	} {
		_, err := parseSwitches([]byte(bad))
		require.Error(t, err, name)
	}
}

// TestContextSwitchesSelf reads this process: a goroutine parked on a
// timer for a while blocks its thread, a voluntary switch; more threads
// than one are summed.
func TestContextSwitchesSelf(t *testing.T) {
	before, err := ContextSwitches(os.Getpid())
	require.NoError(t, err)
	for range 5 {
		time.Sleep(2 * time.Millisecond)
	}
	after, err := ContextSwitches(os.Getpid())
	require.NoError(t, err)
	require.Greater(t, after.Voluntary, before.Voluntary)
	require.GreaterOrEqual(t, after.Involuntary, before.Involuntary)

	_, err = ContextSwitches(1 << 30) // no such process
	require.Error(t, err)
}

func TestParseLoadAverage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0.84 0.64 0.27 2/190 8571\n", "0.84 0.64 0.27"},
		{"12.50 3.36 1.30 9/412 12451", "12.50 3.36 1.30"},
		{"0.84 0.64\n", "unknown"},
		{"", "unknown"},
	} {
		if got := parseLoadAverage([]byte(tc.in)); got != tc.want {
			t.Errorf("parseLoadAverage(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
