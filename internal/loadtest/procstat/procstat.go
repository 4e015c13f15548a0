// Package procstat reads what the load harness reports about a server
// process from Linux's /proc: the CPU time it has used (utime + stime of
// /proc/<pid>/stat, all threads), its peak resident set size (VmHWM of
// /proc/<pid>/status) and its context switches (summed over
// /proc/<pid>/task/*/status); and the machine's load average.
package procstat

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is the unit of utime and stime, USER_HZ: 100 per second on
// every Linux architecture Go supports (sysconf(_SC_CLK_TCK) reports it;
// the kernel ABI fixes it).
const ClockTicks = 100

// CPU returns the CPU time process pid has used so far, user plus system,
// all threads, at a resolution of 1/ClockTicks second.
func CPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("procstat: %w", err)
	}
	return parseStat(b)
}

// parseStat reads utime and stime (fields 14 and 15) of a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may contain spaces
// and parentheses, so fields are counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("procstat: malformed stat line")
	}
	f := bytes.Fields(b[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("procstat: short stat line")
	}
	utime, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	stime, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("procstat: stat line: %w", err)
	}
	return time.Duration(utime+stime) * time.Second / ClockTicks, nil
}

// PeakRSS returns the peak resident set size of process pid, in bytes
// (VmHWM), since it started or since the last ResetPeakRSS.
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("procstat: %w", err)
	}
	return parseStatusKB(b, "VmHWM:")
}

// RSS returns the current resident set size of process pid, in bytes
// (VmRSS).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("procstat: %w", err)
	}
	return parseStatusKB(b, "VmRSS:")
}

// ResetPeakRSS resets the peak RSS of process pid to its current RSS
// (writes 5 to /proc/<pid>/clear_refs; Linux 4.0 and later, own processes
// only).
func ResetPeakRSS(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("procstat: reset peak RSS: %w", err)
	}
	return nil
}

// parseStatusKB returns the value in bytes of the "<key> <n> kB" line of a
// /proc/<pid>/status file.
func parseStatusKB(b []byte, key string) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte(key))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("procstat: malformed %s line", key)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("procstat: %s: %w", key, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("procstat: no %s line", key)
}

// Switches are the context switches of a process's threads: Voluntary when
// a thread blocked (a futex, epoll, a read), Involuntary when the kernel
// preempted it.
type Switches struct {
	Voluntary, Involuntary int64
}

// ContextSwitches returns the context switches of process pid's threads so
// far, summed over its live threads (those of a thread that has exited are
// no longer counted: compare two readings only across a window in which
// the process keeps its threads, as a Go server under steady load does).
func ContextSwitches(pid int) (Switches, error) {
	paths, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(paths) == 0 {
		return Switches{}, fmt.Errorf("procstat: no threads of process %d", pid)
	}
	var sum Switches
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread exited since the glob
			}
			return Switches{}, fmt.Errorf("procstat: %w", err)
		}
		s, err := parseSwitches(b)
		if err != nil {
			return Switches{}, err
		}
		sum.Voluntary += s.Voluntary
		sum.Involuntary += s.Involuntary
	}
	return sum, nil
}

// parseSwitches reads the voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches lines of a /proc/<pid>/task/<tid>/status file.
func parseSwitches(b []byte) (Switches, error) {
	var s Switches
	found := 0
	for line := range bytes.Lines(b) {
		var dst *int64
		var rest []byte
		if r, ok := bytes.CutPrefix(line, []byte("voluntary_ctxt_switches:")); ok {
			dst, rest = &s.Voluntary, r
		} else if r, ok := bytes.CutPrefix(line, []byte("nonvoluntary_ctxt_switches:")); ok {
			dst, rest = &s.Involuntary, r
		} else {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(rest)), 10, 64)
		if err != nil {
			return Switches{}, fmt.Errorf("procstat: context switches: %w", err)
		}
		*dst = n
		found++
	}
	if found != 2 {
		return Switches{}, errors.New("procstat: no context switch lines")
	}
	return s, nil
}

// LoadAverage returns the machine's load averages over 1, 5 and 15
// minutes as /proc/loadavg writes them ("0.84 0.64 0.27"), or "unknown".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return parseLoadAverage(b)
}

// parseLoadAverage returns the first three fields of a /proc/loadavg line,
// or "unknown" when it has fewer.
func parseLoadAverage(b []byte) string {
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
